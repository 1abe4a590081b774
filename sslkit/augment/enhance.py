"""PIL's ``ImageEnhance`` factors (RandAugment's Color, Contrast, Brightness, Sharpness), batched.

Each enhancer blends the image with a "degenerate" version of itself,
``clamp(factor * x + (1 - factor) * degenerate, 0, 1)``, with a per-sample ``factor`` of shape
``(B,)``: factor 1 is the identity, 0 the degenerate image, > 1 extrapolates.

* Brightness: degenerate = black (:func:`adjust_brightness`).
* Contrast: degenerate = the mean grey level of the image (:func:`adjust_contrast`).
* Color: degenerate = the grayscale image; identity on one channel (:func:`adjust_color`).
* Sharpness: degenerate = the image smoothed with PIL's ``SMOOTH`` kernel
  ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``, border pixels kept (:func:`adjust_sharpness`).

PIL works on uint8 and truncates each blend to an integer level; these float versions do not,
so they agree with PIL to within 1 grey level (tests/augment/test_enhance.py).
"""

from __future__ import annotations

import torch

from sslkit.augment import color

__all__ = ["adjust_brightness", "adjust_color", "adjust_contrast", "adjust_sharpness"]

def _blend(x: torch.Tensor, degenerate: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = factor.to(x.dtype).view(-1, 1, 1, 1)
    return (x - degenerate).mul_(f).add_(degenerate).clamp_(0.0, 1.0)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageEnhance.Brightness``: blend with black, i.e. scale (torchvision's brightness)."""
    return color.adjust_brightness(x, factor.to(x.dtype))


def adjust_color(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageEnhance.Color``: blend with the grayscale image (identity on one channel)."""
    return color.adjust_saturation(x, factor.to(x.dtype))


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageEnhance.Contrast``: blend with the image's mean grey, rounded to a grey level.

    PIL takes the mean of the ``L`` image and rounds it to an integer level
    (``int(mean + 0.5)``); the rounding is kept here (torchvision's float mean is not rounded).
    """
    gray = color.rgb_to_gray(x) if x.shape[1] == 3 else x
    mean = gray.mean(dim=(1, 2, 3), keepdim=True).mul_(255.0).add_(0.5).floor_().div_(255.0)  # Bx1x1x1
    return _blend(x, mean.expand_as(x), factor)


def smooth(x: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageFilter.SMOOTH`` on every channel; the one-pixel border is copied unchanged."""
    h, w = x.shape[-2:]
    if h < 3 or w < 3:
        return x.clone()
    # SMOOTH = (3x3 box sum + 4 x centre) / 13, the box sum as shifted adds (measured on CPU:
    # ~6x faster than avg_pool2d, more than that against a grouped conv2d).
    rows = x[..., :-2] + x[..., 1:-1] + x[..., 2:]  # BxCxHx(W-2)
    inner = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]  # BxCx(H-2)x(W-2)
    inner = inner.add_(x[..., 1:-1, 1:-1], alpha=4.0).div_(13.0)
    out = x.clone()
    out[:, :, 1:-1, 1:-1] = inner
    return out


def adjust_sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageEnhance.Sharpness``: blend with :func:`smooth` (factor > 1 sharpens)."""
    return _blend(x, smooth(x), factor)
