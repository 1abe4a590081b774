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

CROP_DEFAULTS: dict[str, float | None] = {
    "scale_min": 0.2, "scale_max": 1.0, "ratio_min": 3 / 4, "ratio_max": 4 / 3, "flip_p": 0.5,
}
# SimCLR's colour distortion (jitter strength s = 0.5) and the optional blur of SimCLR/MoCo v2.
COLOUR_DEFAULTS: dict[str, float | None] = {
    "jitter": 0.4, "brightness": None, "contrast": None, "saturation": None, "hue": None,
    "jitter_p": 0.8,
    "gray_p": 0.2,
    "blur_p": 0.0, "blur_sigma_min": 0.1, "blur_sigma_max": 2.0, "blur_kernel": None,
}
SOLARIZE_DEFAULTS: dict[str, float | None] = {"solarize_p": 0.0, "solarize_threshold": 0.5}
SIMCLR_DEFAULTS: dict[str, float | None] = {**CROP_DEFAULTS, **COLOUR_DEFAULTS, **SOLARIZE_DEFAULTS}
WEAK_DEFAULTS: dict[str, float | None] = dict(CROP_DEFAULTS)
# BYOL's asymmetric views (deepmind byol/utils/augmentations.py; METHODS.md §1.1): crop area (0.08, 1),
# CJ(0.4, 0.4, 0.2, 0.1) p0.8, gray 0.2; blur p 1.0 / 0.1, solarize p 0.0 / 0.2.
BYOL_1_DEFAULTS: dict[str, float | None] = {**SIMCLR_DEFAULTS, "scale_min": 0.08, "saturation": 0.2,
                                             "blur_p": 1.0, "solarize_p": 0.0}
BYOL_2_DEFAULTS: dict[str, float | None] = {**BYOL_1_DEFAULTS, "blur_p": 0.1, "solarize_p": 0.2}
# RSA's ColorStage on an already-cropped weak view (RSA@train_single.py; METHODS.md §5.1):
# CJ(0.4, 0.4, 0.4, 0.1) p0.8 -> gray 0.2 -> blur sigma [0.1, 2] p0.5; no crop, no flip.
RSA_COLOUR_DEFAULTS: dict[str, float | None] = {**COLOUR_DEFAULTS, "blur_p": 0.5}
# SACC's strong view (SACC@modules/transform.py; METHODS.md §7.2): RRC with torchvision's default
# scale (0.08, 1) -> CJ(0.4, 0.4, 0.4, 0.1) p0.8 -> gray 0.2 -> blur p0.5 -> flip -> FixMatch RA(5, 10).
SACC_STRONG_DEFAULTS: dict[str, float | None] = {**CROP_DEFAULTS, "scale_min": 0.08, **COLOUR_DEFAULTS,
                                                  "blur_p": 0.5, "n": 5, "m": 10}


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


def _colour_ops(o: dict[str, Any]) -> list[Op]:
    """Colour jitter -> grayscale -> optional blur -> optional solarize, from resolved options.

    ``jitter`` is SimCLR's strength convention (brightness = contrast = saturation = jitter, hue =
    jitter / 4); ``brightness``, ``contrast``, ``saturation``, ``hue`` each override it. Blur and
    solarize are added only when their probability is positive (policies without solarize keys
    never solarize).
    """
    jitter = float(o["jitter"])
    ops: list[Op] = [
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
    if o.get("solarize_p", 0) > 0:
        ops.append(Solarize(o["solarize_p"], o["solarize_threshold"]))
    return ops


def _crop_flip_colour(policy: str, defaults: dict[str, float | None], size: int, channels: int,
                      kwargs: dict[str, Any]) -> Policy:
    """The SimCLR-family pipeline (crop -> flip -> jitter -> gray -> blur -> solarize) with ``defaults``."""
    _check(policy, size, channels)
    o = _resolve(policy, defaults, kwargs)
    return Policy(policy, _build(policy, lambda: _crop_and_flip(size, o) + _colour_ops(o)), size)


def _integer(policy: str, key: str, value: float, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (CLI numbers arrive as int or float)."""
    if value != int(value) or value < minimum:
        raise SSLKitError(f"option {key}={value} of augmentation policy {policy!r} must be an integer "
                          f">= {minimum}")
    return int(value)


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
    return _crop_flip_colour("simclr", SIMCLR_DEFAULTS, size, channels, kwargs)


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


def byol_1(size: int, channels: int, **kwargs: Any) -> Policy:
    """BYOL's first view: crop, flip, colour jitter, grayscale and an always-on Gaussian blur.

    Source: METHODS.md §1.1 "BYOL ImageNet view 1" (deepmind byol/utils/augmentations.py):
    ``RRC(size, (0.08, 1)) -> flip -> CJ(0.4, 0.4, 0.2, 0.1) p0.8 -> gray 0.2 -> blur p1.0``, no
    solarize. Colour jitter applies its four ops in a random order per sample, as BYOL does.

    Args:
        size: Output side in pixels.
        channels: 1 or 3.
        **kwargs: The keys of :func:`simclr`, with defaults ``scale_min`` (0.08), ``saturation``
            (0.2), ``blur_p`` (1.0), ``solarize_p`` (0) and the rest as in :func:`simclr`.

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    return _crop_flip_colour("byol-1", BYOL_1_DEFAULTS, size, channels, kwargs)


def byol_2(size: int, channels: int, **kwargs: Any) -> Policy:
    """BYOL's second view: as :func:`byol_1` with a rare blur and solarization.

    Source: METHODS.md §1.1 "BYOL ImageNet view 2" (deepmind byol/utils/augmentations.py):
    ``RRC(size, (0.08, 1)) -> flip -> CJ(0.4, 0.4, 0.2, 0.1) p0.8 -> gray 0.2 -> blur p0.1 ->
    solarize p0.2`` (threshold 0.5 on [0, 1]).

    Args:
        size: Output side in pixels.
        channels: 1 or 3.
        **kwargs: The keys of :func:`simclr`, with defaults ``scale_min`` (0.08), ``saturation``
            (0.2), ``blur_p`` (0.1), ``solarize_p`` (0.2), ``solarize_threshold`` (0.5).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    return _crop_flip_colour("byol-2", BYOL_2_DEFAULTS, size, channels, kwargs)


def rsa_colour(size: int, channels: int, **kwargs: Any) -> Policy:
    """RSA's ColorStage: colour distortion of an already-cropped view, keeping its geometry.

    Source: METHODS.md §5.1 (RSA@train_single.py): the aggressive view ``A_i`` is the weak view
    ``c_i`` (crop + flip) passed through ``CJ(0.4, 0.4, 0.4, 0.1) p0.8 -> gray p0.2 -> blur sigma
    in [0.1, 2] p0.5``. There is no crop and no flip, so every pixel stays where it was in the
    weak view (use it as a role ``derived_from`` the weak role). Images of another side than
    ``size`` are resized to it (the derived view's input normally already is ``size``).

    Args:
        size: Output side in pixels (the side of the view it is applied to).
        channels: 1 or 3.
        **kwargs: Any of ``jitter`` (0.4), ``brightness``, ``contrast``, ``saturation``, ``hue``,
            ``jitter_p`` (0.8), ``gray_p`` (0.2), ``blur_p`` (0.5), ``blur_sigma_min`` (0.1),
            ``blur_sigma_max`` (2), ``blur_kernel`` (odd; default ~10% of the side), as in
            :func:`simclr`.

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("rsa-colour", size, channels)
    o = _resolve("rsa-colour", RSA_COLOUR_DEFAULTS, kwargs)
    return Policy("rsa-colour", _build("rsa-colour", lambda: _colour_ops(o)), size)


def sacc_strong(size: int, channels: int, **kwargs: Any) -> Policy:
    """SACC's strong view: crop, colour distortion, blur, flip, then FixMatch RandAugment(5, 10).

    Source: METHODS.md §7.2 (SACC@modules/transform.py): ``RRC(size) (scale (0.08, 1)) ->
    CJ(0.4, 0.4, 0.4, 0.1) p0.8 -> gray 0.2 -> blur p0.5 -> flip -> RandAugment(n=5, m=10)`` with
    the FixMatch variant of §1.2b (:class:`sslkit.augment.randaugment.FixMatchRandAugment`). The
    flip comes after the blur, as in the released code. SACC's ImageNet normalisation of this view
    only (the §7.2 FLAG) is a matter of the method, not of the policy.

    Args:
        size: Output side in pixels.
        channels: 1 or 3.
        **kwargs: Any of ``n`` (5 ops), ``m`` (10, magnitudes drawn from 1..m-1), the crop keys
            ``scale_min`` (0.08), ``scale_max`` (1), ``ratio_min`` (3/4), ``ratio_max`` (4/3),
            ``flip_p`` (0.5) and the colour keys of :func:`rsa_colour` (``blur_p`` 0.5).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    # Imported here: randaugment.py builds its own policies with this module's helpers.
    from sslkit.augment.randaugment import FixMatchRandAugment

    _check("sacc-strong", size, channels)
    o = _resolve("sacc-strong", SACC_STRONG_DEFAULTS, kwargs)
    n = _integer("sacc-strong", "n", o["n"], 0)
    m = _integer("sacc-strong", "m", o["m"], 2)

    def build() -> list[Op]:
        crop, flip = _crop_and_flip(size, o)
        return [crop, *_colour_ops(o), flip, FixMatchRandAugment(n=n, m=m)]

    return Policy("sacc-strong", _build("sacc-strong", build), size)
