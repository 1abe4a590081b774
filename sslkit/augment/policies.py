"""Policy factories registered under the ``sslkit.augmentations`` entry-point group.

Each factory is ``factory(size, channels, **kwargs) -> Policy``; the kwargs come from the CLI
(``--aug standard=simclr:scale_min=0.2,jitter=0.4``) as numbers. Unknown keys raise
:class:`sslkit.errors.SSLKitError` naming the valid ones.
"""

from __future__ import annotations

from typing import Any

from sslkit.augment.base import Op, Policy
from sslkit.augment.blur import GaussianBlur
from sslkit.augment.color import ColorJitter, RandomGrayscale, Solarize
from sslkit.augment.geometric import HorizontalFlip, RandomResizedCrop
from sslkit.errors import SSLKitError

SIMCLR_DEFAULTS: dict[str, float | None] = {
    "scale_min": 0.2, "scale_max": 1.0, "ratio_min": 3 / 4, "ratio_max": 4 / 3,
    "flip_p": 0.5,
    "jitter": 0.4, "brightness": None, "contrast": None, "saturation": None, "hue": None,
    "jitter_p": 0.8,
    "gray_p": 0.2,
    "blur_p": 0.0, "blur_sigma_min": 0.1, "blur_sigma_max": 2.0, "blur_kernel": None,
    "solarize_p": 0.0, "solarize_threshold": 0.5,
}
WEAK_DEFAULTS: dict[str, float | None] = {
    "scale_min": 0.2, "scale_max": 1.0, "ratio_min": 3 / 4, "ratio_max": 4 / 3, "flip_p": 0.5,
}


def _resolve(policy: str, defaults: dict[str, float | None], given: dict[str, Any]) -> dict[str, Any]:
    """Merge CLI kwargs into the defaults, checking names and that values are numbers."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SSLKitError(f"unknown option(s) {', '.join(unknown)} for augmentation policy {policy!r}; "
                          f"valid keys: {', '.join(defaults)}")
    out = dict(defaults)
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SSLKitError(f"option {key}={value!r} of augmentation policy {policy!r} must be a number")
        out[key] = value
    return out


def _check(policy: str, size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise SSLKitError(f"augmentation policy {policy!r} supports 1 or 3 channels, got {channels}")
    if size < 1:
        raise SSLKitError(f"augmentation policy {policy!r} needs a positive output size, got {size}")


def _build(policy: str, build: Any) -> list[Op]:
    """Turn the ops' ValueErrors (bad ranges, probabilities) into one-line user errors."""
    try:
        return build()
    except ValueError as err:
        raise SSLKitError(f"augmentation policy {policy!r}: {err}") from None


def _crop_and_flip(size: int, o: dict[str, Any]) -> list[Op]:
    """The geometric start every policy shares: random resized crop, then horizontal flip."""
    return [RandomResizedCrop(size, (o["scale_min"], o["scale_max"]), (o["ratio_min"], o["ratio_max"])),
            HorizontalFlip(o["flip_p"])]


def simclr(size: int, channels: int, **kwargs: Any) -> Policy:
    """The SimCLR / SimSiam standard view: crop, flip, colour jitter, grayscale (+ optional blur, solarize).

    Source: METHODS.md §1.1 "Standard pipelines" and §4.4 T_std for CIFAR-10 (DSSL@
    simsiam_cifar10/augmentations/simsiam_aug.py): ``RRC(32, (0.2, 1)) -> flip -> CJ(0.4, 0.4,
    0.4, 0.1) p0.8 -> gray p0.2`` with no blur. The defaults are that recipe; ``scale_min=0.08``
    gives SimCLR CIFAR-10 / MoCo CIFAR demo, ``jitter=0.8, blur_p=0.5`` SimCLR ImageNet,
    ``blur_p=0.5`` MoCo v2 / SimSiam ImageNet ("aug+").

    Args:
        size: Output side in pixels.
        channels: 1 or 3 (colour ops that need colour are no-ops on 1 channel, as torchvision).
        **kwargs: Any of ``scale_min`` (0.2), ``scale_max`` (1), ``ratio_min`` (3/4),
            ``ratio_max`` (4/3), ``flip_p`` (0.5), ``jitter`` (0.4: brightness = contrast =
            saturation = jitter, hue = jitter / 4, SimCLR's strength convention), ``brightness``,
            ``contrast``, ``saturation``, ``hue`` (each overrides ``jitter``), ``jitter_p`` (0.8),
            ``gray_p`` (0.2), ``blur_p`` (0), ``blur_sigma_min`` (0.1), ``blur_sigma_max`` (2),
            ``blur_kernel`` (odd; default ~10% of the side), ``solarize_p`` (0),
            ``solarize_threshold`` (0.5).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("simclr", size, channels)
    o = _resolve("simclr", SIMCLR_DEFAULTS, kwargs)
    jitter = float(o["jitter"])

    def build() -> list[Op]:
        ops: list[Op] = _crop_and_flip(size, o) + [
            ColorJitter(
                brightness=jitter if o["brightness"] is None else o["brightness"],
                contrast=jitter if o["contrast"] is None else o["contrast"],
                saturation=jitter if o["saturation"] is None else o["saturation"],
                hue=jitter / 4 if o["hue"] is None else o["hue"],
                p=o["jitter_p"]),
            RandomGrayscale(o["gray_p"]),
        ]
        if o["blur_p"] > 0:
            kernel = None if o["blur_kernel"] is None else int(o["blur_kernel"])
            ops.append(GaussianBlur(o["blur_p"], (o["blur_sigma_min"], o["blur_sigma_max"]), kernel))
        if o["solarize_p"] > 0:
            ops.append(Solarize(o["solarize_p"], o["solarize_threshold"]))
        return ops

    return Policy("simclr", _build("simclr", build), size)


def weak(size: int, channels: int, **kwargs: Any) -> Policy:
    """The weak view: random resized crop and horizontal flip only.

    Source: METHODS.md §1.1 and DESIGN.md §3 (RSA's ``weak`` views "crop+flip", ReSSL's teacher
    view): ``RRC(size, (0.2, 1)) -> flip 0.5``.

    Args:
        size: Output side in pixels.
        channels: 1 or 3.
        **kwargs: Any of ``scale_min`` (0.2), ``scale_max`` (1), ``ratio_min`` (3/4),
            ``ratio_max`` (4/3), ``flip_p`` (0.5).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("weak", size, channels)
    o = _resolve("weak", WEAK_DEFAULTS, kwargs)

    def build() -> list[Op]:
        return _crop_and_flip(size, o)

    return Policy("weak", _build("weak", build), size)
