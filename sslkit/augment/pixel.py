"""Per-pixel level ops of PIL's ``ImageOps`` (RandAugment's AutoContrast ... SolarizeAdd), batched.

The RandAugment variants of METHODS.md §1.2 run these on uint8 PIL images. Here a float batch
``(B, C, H, W)`` in [0, 1] is quantised to grey levels with ``round(x * 255)`` (the inverse of
``ToTensor``) where the op is defined on levels (equalize, posterize, solarize, solarize-add),
and the result is mapped back to [0, 1]. Parameters are per sample, shape ``(B,)``; every
function returns a new tensor and never modifies its input.
"""

from __future__ import annotations

import torch


def _col(v: torch.Tensor) -> torch.Tensor:
    """Per-sample values ``(B,)`` -> ``(B, 1, 1, 1)``."""
    return v.view(-1, 1, 1, 1)


def to_levels(x: torch.Tensor) -> torch.Tensor:
    """Quantise a float batch in [0, 1] to grey levels ``round(x * 255)`` (integer-valued floats)."""
    return x.mul(255.0).round_().clamp_(0.0, 255.0)


def from_levels(q: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Grey levels 0..255 -> float batch in [0, 1]."""
    return q.to(dtype).div_(255.0)


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch every (sample, channel) so that its minimum maps to 0 and its maximum to 1.

    PIL's ``ImageOps.autocontrast`` (cutoff 0) per band; a constant band is left unchanged. PIL
    truncates the stretched level to an integer, this float version does not (< 1 grey level).
    """
    lo = x.amin(dim=(2, 3), keepdim=True)  # BxCx1x1
    hi = x.amax(dim=(2, 3), keepdim=True)
    span = hi - lo
    flat = span <= 0
    span = torch.where(flat, torch.ones_like(span), span)  # divide (not multiply): max -> exactly 1
    lo = torch.where(flat, torch.zeros_like(lo), lo)
    return (x - lo).div_(span).clamp_(0.0, 1.0)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Histogram-equalize every (sample, channel) on 256 grey levels (PIL's ``ImageOps.equalize``).

    Per band: ``step = (N - n_last) // 255`` with ``n_last`` the count of the highest occupied
    level; level ``i`` maps to ``(step // 2 + sum_{j < i} hist[j]) // step``. A band with one
    occupied level, or ``step == 0``, is unchanged. Histograms are one ``scatter_add`` over the
    whole batch.
    """
    b, c, h, w = x.shape
    rows = torch.arange(b * c, device=x.device, dtype=x.dtype).view(-1, 1) * 256
    index = to_levels(x).view(b * c, h * w).add_(rows).long().view(-1)  # level + 256 * band
    hist = torch.bincount(index, minlength=b * c * 256).view(b * c, 256)  # one call for all bands
    top = 255 - (hist.flip(1) > 0).long().argmax(dim=1, keepdim=True)  # highest occupied level
    step = (h * w - hist.gather(1, top)) // 255  # (BC)x1
    before = hist.cumsum(dim=1) - hist  # pixels strictly below each level
    # Integer floor division done in float64 (exact here, and far faster than int64 division on CPU).
    lut = torch.floor((before + step // 2).double() / step.clamp(min=1).double()).clamp_(max=255.0)
    levels = torch.arange(256, device=x.device, dtype=torch.float64).expand_as(lut)
    lut = torch.where(step == 0, levels, lut).to(x.dtype)  # step 0 also covers one occupied level
    return lut.view(-1).index_select(0, index).div_(255.0).view(b, c, h, w)


def invert(x: torch.Tensor) -> torch.Tensor:
    """``1 - x`` (PIL's ``ImageOps.invert``; exact on grey levels)."""
    return 1.0 - x


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the ``bits`` (1..8, per sample) most significant bits of every grey level.

    PIL's ``ImageOps.posterize``: ``level & ~(2 ** (8 - bits) - 1)``.
    """
    drop = _col(torch.exp2(8.0 - bits.to(x.dtype).clamp(1.0, 8.0)))  # Bx1x1x1, a power of two
    q = to_levels(x)
    return from_levels(q.div_(drop).floor_().mul_(drop), x.dtype)


def solarize_levels(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert grey levels ``>= threshold`` (a level in [0, 256], per sample; PIL's ``solarize``)."""
    q = to_levels(x)
    inv = (q >= _col(threshold.to(x.dtype))).to(x.dtype)
    return from_levels(torch.lerp(q, 255.0 - q, inv), x.dtype)  # lerp: exact for 0/1 weights


def solarize_add(x: torch.Tensor, addition: torch.Tensor, threshold: float = 128.0) -> torch.Tensor:
    """Add ``addition`` grey levels (per sample), clip to 0..255 and truncate, then solarize.

    DSSL's / AutoAugment's SolarizeAdd: ``uint8(clip(level + addition, 0, 255))`` followed by
    PIL's solarize at ``threshold`` (128).
    """
    q = to_levels(x).add_(_col(addition.to(x.dtype))).clamp_(0.0, 255.0).floor_()
    return from_levels(torch.lerp(q, 255.0 - q, (q >= threshold).to(x.dtype)), x.dtype)
