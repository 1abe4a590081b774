"""PIL round trips for the reference comparisons of the RandAugment op families."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_pil(x: torch.Tensor) -> Image.Image:
    """One float image ``(C, H, W)`` in [0, 1] -> PIL ``RGB`` (C = 3) or ``L`` (C = 1), rounded to uint8."""
    a = x.mul(255).round().to(torch.uint8)
    return Image.fromarray(a.permute(1, 2, 0).numpy()) if a.shape[0] == 3 else Image.fromarray(a[0].numpy())


def from_pil(img: Image.Image) -> torch.Tensor:
    """PIL ``RGB`` / ``L`` image -> float ``(C, H, W)`` in [0, 1]."""
    a = torch.from_numpy(np.array(img))
    return (a.permute(2, 0, 1) if a.ndim == 3 else a[None]).float() / 255


def per_sample(fn, x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
    """Stack ``from_pil(fn(to_pil(x[i]), values[0][i], ...))`` over the batch."""
    return torch.stack([from_pil(fn(to_pil(x[i]), *(float(v[i]) for v in values))) for i in range(x.shape[0])])


def smooth_batch(n: int, channels: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Quantised images with smooth structure (upsampled noise), more image-like than white noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 256, (n, channels, max(2, h // 4), max(2, w // 4)), generator=g).float() / 255
    x = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return x.mul(255).round().div(255)
