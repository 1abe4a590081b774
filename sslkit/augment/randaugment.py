"""The two RandAugment variants of METHODS.md §1.2 as batched ops, and their policy factories.

* :class:`DSSLRandAugment` (§1.2a, DSSL's heavy view): N of 16 ops drawn with replacement, each
  always applied at the deterministic magnitude ``v = (M / 30) * (max - min) + min``.
* :class:`FixMatchRandAugment` (§1.2b, SACC's and ReSSL's strong view): n of 14 ops drawn with
  replacement, each with its own integer level ``v ~ U{1, ..., m - 1}`` and applied with
  probability 0.5.

Both draw everything per sample (op, sign, level, cutout centre) in ``sample`` and store the final
signed magnitude of every op slot in ``params["value"]``, in the op's own units (degrees, pixels,
bits, grey levels, enhancement factor), so the ops and magnitudes each view received can be
recorded. ``apply`` runs op slot by op slot; within a slot the samples are grouped by op (one
``argsort``) and each op runs once on its contiguous group, so a batch costs O(N x ops) kernel
launches whatever its size. The ops themselves live in :mod:`sslkit.augment.pixel`,
:mod:`~sslkit.augment.enhance`, :mod:`~sslkit.augment.affine` and :mod:`~sslkit.augment.cutout`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sslkit.augment import enhance, pixel
from sslkit.augment._random import check_probability, rand, randint
from sslkit.augment.affine import rotate_matrix, shear_matrix, translate_matrix, warp_nearest
from sslkit.augment.base import Op, Policy
from sslkit.augment.choice import OneOf
from sslkit.augment.cutout import cutout, cutout_corners
from sslkit.augment.gridshuffle import GridShuffle
from sslkit.augment.policies import _build, _check, _resolve

IDENTITY = -1  # op index of a slot that leaves the sample unchanged (FixMatch's apply = False)
SIGNED = frozenset({"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"})
CUTOUT_FILL = (125, 123, 114)  # DSSL@rand_aug_custom.py CutoutAbs colour (grey levels)

# METHODS.md §1.2a, DSSL@*/augmentations/rand_aug_custom.py augment_list(): (op, min, max).
DSSL_OPS: tuple[tuple[str, float, float], ...] = (
    ("AutoContrast", 0, 1), ("Equalize", 0, 1), ("Invert", 0, 1), ("Rotate", 0, 30),
    ("Posterize", 0, 4), ("Solarize", 0, 256), ("SolarizeAdd", 0, 110), ("Color", 0.1, 1.9),
    ("Contrast", 0.1, 1.9), ("Brightness", 0.1, 1.9), ("Sharpness", 0.1, 1.9), ("ShearX", 0.0, 0.3),
    ("ShearY", 0.0, 0.3), ("Cutout", 0, 40), ("TranslateX", 0.0, 100), ("TranslateY", 0.0, 100),
)
# METHODS.md §1.2b, ReSSL@data/randaugment.py = SACC@modules/RandAugment.py: (op, max_v, bias).
FIXMATCH_OPS: tuple[tuple[str, float, float], ...] = (
    ("AutoContrast", 0, 0), ("Brightness", 0.9, 0.05), ("Color", 0.9, 0.05), ("Contrast", 0.9, 0.05),
    ("Equalize", 0, 0), ("Identity", 0, 0), ("Posterize", 4, 4), ("Rotate", 30, 0),
    ("Sharpness", 0.9, 0.05), ("ShearX", 0.3, 0), ("ShearY", 0.3, 0), ("Solarize", 256, 0),
    ("TranslateX", 0.3, 0), ("TranslateY", 0.3, 0),
)
_INT_PARAMETER = frozenset({"Posterize", "Rotate", "Solarize"})  # FixMatch's _int_parameter ops


def _fill(levels: tuple[int, ...], channels: int) -> torch.Tensor:
    """An RGB fill colour (grey levels) as ``(C,)`` in [0, 1]; one channel takes the RGB mean."""
    values = torch.tensor(levels, dtype=torch.float32) / 255.0
    return values if channels == 3 else values.mean().view(1)


def run_op(name: str, x: torch.Tensor, value: torch.Tensor, cx: torch.Tensor | None = None,
           cy: torch.Tensor | None = None) -> torch.Tensor:
    """Apply the RandAugment op ``name`` with per-sample signed magnitudes ``value`` ``(B,)``.

    Units of ``value``: Rotate degrees (counter-clockwise), ShearX/Y factor, TranslateX/Y pixels,
    Posterize bits kept, Solarize threshold and SolarizeAdd addition in grey levels, Color /
    Contrast / Brightness / Sharpness factor, Cutout side in pixels (centred at ``cx, cy``).
    Geometric ops fill with black, as PIL's default; Cutout with DSSL's (125, 123, 114).
    """
    _, c, h, w = x.shape
    black = torch.zeros(c)
    fns: dict[str, Callable[[], torch.Tensor]] = {
        "Identity": lambda: x,
        "AutoContrast": lambda: pixel.autocontrast(x),
        "Equalize": lambda: pixel.equalize(x),
        "Invert": lambda: pixel.invert(x),
        "Posterize": lambda: pixel.posterize(x, value),
        "Solarize": lambda: pixel.solarize_levels(x, value),
        "SolarizeAdd": lambda: pixel.solarize_add(x, value),
        "Color": lambda: enhance.adjust_color(x, value),
        "Contrast": lambda: enhance.adjust_contrast(x, value),
        "Brightness": lambda: enhance.adjust_brightness(x, value),
        "Sharpness": lambda: enhance.adjust_sharpness(x, value),
        "Rotate": lambda: warp_nearest(x, rotate_matrix(value, h, w), black),
        "ShearX": lambda: warp_nearest(x, shear_matrix(value, "x"), black),
        "ShearY": lambda: warp_nearest(x, shear_matrix(value, "y"), black),
        "TranslateX": lambda: warp_nearest(x, translate_matrix(value, "x"), black),
        "TranslateY": lambda: warp_nearest(x, translate_matrix(value, "y"), black),
        "Cutout": lambda: cutout(x, *cutout_corners(cx, cy, value), value, _fill(CUTOUT_FILL, c)),
    }
    if name not in fns:
        raise ValueError(f"unknown RandAugment op {name!r}; valid: {', '.join(fns)}")
    return fns[name]()


def _count(name: str, value: float) -> int:
    if isinstance(value, bool) or float(value) != int(value) or int(value) < 1:
        raise ValueError(f"{name} (number of ops per image) must be a positive integer, got {value}")
    return int(value)


class _RandAugment(Op):
    """Shared sampling of ops and signs, and the grouped per-slot application."""

    names: tuple[str, ...]

    def _draw_ops(self, b: int, n: int, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Op indices ``(B, N)`` with replacement, and random signs ``(B, N)`` (+-1, float64)."""
        op = randint(0, len(self.names), (b, n), generator=generator)
        sign = randint(0, 2, (b, n), generator=generator).to(torch.float64).mul_(2).sub_(1)
        signed = torch.tensor([name in SIGNED for name in self.names])[op]
        return op, torch.where(signed, sign, torch.ones_like(sign))

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Apply each slot's op to every sample (slots in order; identity where ``apply`` is False)."""
        out = x
        for j in range(params["op"].shape[1]):
            op = params["op"][:, j]
            if "apply" in params:
                op = torch.where(params["apply"][:, j], op, torch.full_like(op, IDENTITY))
            extra = {k: params[k][:, j] for k in ("cx", "cy") if k in params}
            out = self._slot(out, op, params["value"][:, j], extra)
        return out

    def _slot(self, x: torch.Tensor, op: torch.Tensor, value: torch.Tensor,
              extra: dict[str, torch.Tensor]) -> torch.Tensor:
        """Group the samples by op, run each op once on its group, restore the sample order."""
        order = torch.argsort(op, stable=True)
        counts = torch.bincount(op - IDENTITY, minlength=len(self.names) + 1).tolist()  # one host sync
        xs, vs = x.index_select(0, order), value[order]  # index_select: measured faster than x[order]
        es = {k: v[order] for k, v in extra.items()}
        pieces, start = [], 0
        for k, count in enumerate(counts):
            if count:
                end = start + count
                piece = xs[start:end]
                if k > 0:
                    piece = run_op(self.names[k - 1], piece, vs[start:end],
                                   *(es[key][start:end] if key in es else None for key in ("cx", "cy")))
                pieces.append(piece)
                start = end
        if len(pieces) == 1:  # every sample took the same op
            return pieces[0].index_select(0, torch.argsort(order))
        return torch.cat(pieces).index_select(0, torch.argsort(order))  # back to the sample order


class DSSLRandAugment(_RandAugment):
    """DSSL's RandAugment(N, M) (METHODS.md §1.2a; DSSL@*/augmentations/rand_aug_custom.py).

    Per sample, ``n`` ops are drawn with replacement from the 16 ops of :data:`DSSL_OPS` and all
    are applied, in order, at ``v = (m / 30) * (max - min) + min``; Rotate, Shear and Translate get
    a random sign. At M = 9: rotate 9 degrees, posterize to 1 bit (``max(1, int(v))``), solarize
    at level 76.8, SolarizeAdd +33 then solarize at 128, enhancement factors 0.64, shear 0.09,
    cutout 12 px (13 filled, PIL's inclusive rectangle) in (125, 123, 114), translate 30 px.
    Translate and Cutout are in absolute pixels, as in the code (written for 32-px CIFAR and
    224-px ImageNet alike), so they are extreme on small images. Geometric ops fill with black.

    Args:
        n: Number of ops per image (DSSL CIFAR-10: 2; BYOL "harder" heavy view: 8).
        m: Magnitude in [0, 30] (DSSL CIFAR-10 and ImageNet: 9; BYOL "harder": 16).
    """

    def __init__(self, n: int = 2, m: float = 9) -> None:
        self.n = _count("n", n)
        self.m = float(m)
        if not 0.0 <= self.m <= 30.0:
            raise ValueError(f"m (magnitude) must be in [0, 30], got {m}")
        self.names = tuple(name for name, _, _ in DSSL_OPS)
        self.magnitudes = {name: (self.m / 30) * float(hi - lo) + lo for name, lo, hi in DSSL_OPS}
        self.magnitudes["Posterize"] = max(1, int(self.magnitudes["Posterize"]))

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``op`` (int64), ``value`` (signed magnitude, float64) and cutout centres ``cx``,
        ``cy`` (float64, in ``(1, W]`` and ``(1, H]`` as the reference), all ``(B, n)``."""
        b, _, h, w = x.shape
        op, sign = self._draw_ops(b, self.n, generator)
        mags = torch.tensor([self.magnitudes[name] for name in self.names], dtype=torch.float64)
        u = rand(2, b, self.n, generator=generator, dtype=torch.float64, batch_dim=1)
        params = {"op": op, "value": mags[op] * sign, "cx": w + (1 - w) * u[0], "cy": h + (1 - h) * u[1]}
        return {k: v.to(x.device) for k, v in params.items()}


class FixMatchRandAugment(_RandAugment):
    """FixMatch-style RandAugment(n, m) of SACC and ReSSL (METHODS.md §1.2b).

    Per sample, ``n`` ops are drawn with replacement from the 14 ops of :data:`FIXMATCH_OPS`;
    each gets an integer level ``v ~ U{1, ..., m - 1}`` and is applied with probability 0.5.
    Magnitudes (``v / 10`` scale): Brightness, Color, Contrast, Sharpness ``0.05 + 0.9 v / 10``;
    Posterize ``4 + int(4 v / 10)`` bits; Rotate ``int(30 v / 10)`` degrees; Shear ``0.3 v / 10``;
    Solarize threshold ``256 - int(256 v / 10)``; Translate ``int(0.3 v / 10 * side)`` pixels;
    random sign for Rotate, Shear and Translate; black fill.

    Args:
        n: Number of op slots per image (SACC: 5; ReSSL: 2).
        m: Level bound in [2, 10]; levels are drawn from ``1 .. m - 1`` (SACC, ReSSL: 10).
    """

    def __init__(self, n: int = 2, m: int = 10) -> None:
        self.n = _count("n", n)
        if isinstance(m, bool) or float(m) != int(m) or not 2 <= int(m) <= 10:
            raise ValueError(f"m (level bound) must be an integer in [2, 10], got {m}")
        self.m = int(m)
        self.names = tuple(name for name, _, _ in FIXMATCH_OPS)

    def magnitude(self, name: str, level: torch.Tensor, side: int) -> torch.Tensor:
        """Unsigned magnitude of op ``name`` at integer ``level`` (float64), as the reference maps it."""
        max_v, bias = dict((n, (mv, bi)) for n, mv, bi in FIXMATCH_OPS)[name]
        v = level.to(torch.float64) * max_v / 10  # _float_parameter
        if name in _INT_PARAMETER:
            v = v.trunc()  # _int_parameter
        if name == "Solarize":
            return 256 - v
        if name.startswith("Translate"):
            return (v * side).trunc()
        return v + bias

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``op``, ``level`` (int64), ``apply`` (bool) and ``value`` (float64), all ``(B, n)``."""
        b, _, h, w = x.shape
        op, sign = self._draw_ops(b, self.n, generator)
        level = randint(1, self.m, (b, self.n), generator=generator)
        apply = rand(b, self.n, generator=generator) < 0.5
        value = torch.zeros(b, self.n, dtype=torch.float64)
        for k, name in enumerate(self.names):
            side = h if name == "TranslateY" else w
            value = torch.where(op == k, self.magnitude(name, level, side), value)
        params = {"op": op, "level": level, "apply": apply, "value": value * sign}
        return {k: v.to(x.device) for k, v in params.items()}



# DSSL CIFAR-10 heavy view RA(2, 9) (DSSL@simsiam_cifar10/run.py); grid_p = 0.1 gives the ImageNet
# SimSiam heavy view "0.9 x RA(2, 9) / 0.1 x GridShuffle(4)" (DSSL@simsiam_imagenet, METHODS.md §4.4).
DSSL_DEFAULTS: dict[str, float | None] = {"n": 2, "m": 9, "grid_p": 0.0}
# SACC / ReSSL code defaults RandAugment(n=2, m=10) (SACC's strong view passes n=5).
FIXMATCH_DEFAULTS: dict[str, float | None] = {"n": 2, "m": 10}


def randaugment_dssl(size: int, channels: int, **kwargs: Any) -> Policy:
    """DSSL's heavy view: RandAugment(N, M) of METHODS.md §1.2a, optionally a grid shuffle instead.

    No crop: the policy is applied to an already-augmented view (DSSL derives its heavy views
    from the standard views, DESIGN.md §3), so the output has the input's size.

    Args:
        size: Output side in pixels (inputs of another side are resized to it afterwards).
        channels: 1 or 3 (Color is the identity on one channel; fills use the RGB mean).
        **kwargs: Any of ``n`` (2 ops per image), ``m`` (9, magnitude in [0, 30]) and ``grid_p``
            (0: probability per sample of a 4 x 4 grid shuffle *instead of* RandAugment; 0.1 is
            DSSL's ImageNet SimSiam heavy view).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("randaugment-dssl", size, channels)
    o = _resolve("randaugment-dssl", DSSL_DEFAULTS, kwargs)

    def build() -> list[Op]:
        ra = DSSLRandAugment(o["n"], o["m"])
        grid_p = check_probability("grid_p", o["grid_p"])
        return [ra] if grid_p == 0 else [OneOf(ra, GridShuffle(grid=4, p=1.0), grid_p)]

    return Policy("randaugment-dssl", _build("randaugment-dssl", build), size)


def randaugment_fixmatch(size: int, channels: int, **kwargs: Any) -> Policy:
    """FixMatch-style RandAugment(n, m) of METHODS.md §1.2b alone (SACC's / ReSSL's strong ops).

    No crop: applied to the pixels it is given, output size = input size.

    Args:
        size: Output side in pixels (inputs of another side are resized to it afterwards).
        channels: 1 or 3.
        **kwargs: Any of ``n`` (2 op slots per image), ``m`` (10: levels drawn from 1 .. m - 1).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("randaugment-fixmatch", size, channels)
    o = _resolve("randaugment-fixmatch", FIXMATCH_DEFAULTS, kwargs)
    return Policy("randaugment-fixmatch",
                  _build("randaugment-fixmatch", lambda: [FixMatchRandAugment(o["n"], o["m"])]), size)
