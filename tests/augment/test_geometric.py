"""RandomResizedCrop and HorizontalFlip against torchvision.

Resampling tolerance: on fixed boxes our batched crop matches
``torchvision.transforms.v2.functional.resized_crop(..., antialias=True)`` to 1e-5 (measured:
exact when upsampling, ~3e-6 when shrinking a crop larger than the output).
"""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslkit.augment import HorizontalFlip, RandomResizedCrop


@pytest.mark.parametrize(("side", "size"), [(20, 20), (20, 12), (40, 16), (20, 33)])
def test_rrc_matches_torchvision_on_fixed_boxes(batch: torch.Tensor, side: int, size: int) -> None:
    x = torch.nn.functional.interpolate(batch, size=(side, side), mode="nearest")
    op = RandomResizedCrop(size, scale=(0.05, 1.0))
    params = op.sample(x, torch.Generator().manual_seed(0))
    out = op.apply(x, params)
    assert out.shape == (x.shape[0], x.shape[1], size, size)
    for i in range(x.shape[0]):
        box = [int(params[k][i]) for k in ("top", "left", "height", "width")]
        ref = TF.resized_crop(x[i], *box, [size, size], antialias=True)
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


def test_rrc_boxes_follow_torchvision_rule() -> None:
    x = torch.zeros(4000, 1, 32, 24)
    op = RandomResizedCrop(8, scale=(0.2, 0.9), ratio=(0.5, 2.0))
    p = op.sample(x, torch.Generator().manual_seed(1))
    h, w, top, left = p["height"], p["width"], p["top"], p["left"]
    assert ((top >= 0) & (left >= 0) & (top + h <= 32) & (left + w <= 24)).all()
    area = (h * w).double() / (32 * 24)
    assert area.min() >= 0.2 - 0.05 and area.max() <= 0.9 + 0.05  # rounding of h, w
    ratio = w.double() / h.double()
    assert ratio.min() > 0.5 * 0.8 and ratio.max() < 2.0 * 1.2
    # Positions are uniform: the mean relative offset of the box is close to 1/2.
    slack = (top.double() / (32 - h + 1e-9).clamp(min=1)).mean()
    assert abs(float(slack) - 0.5) < 0.05


def test_rrc_fallback_is_central_crop() -> None:
    # No candidate fits (minimum area 1.0 with an extreme aspect ratio): torchvision's fallback.
    x = torch.zeros(6, 1, 10, 30)
    op = RandomResizedCrop(5, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    p = op.sample(x, torch.Generator().manual_seed(0))
    assert (p["height"] == 10).all() and (p["width"] == 10).all()
    assert (p["top"] == 0).all() and (p["left"] == 10).all()


def test_rrc_full_box_is_identity(batch: torch.Tensor) -> None:
    side = batch.shape[-1]
    n = batch.shape[0]
    full = {"top": torch.zeros(n, dtype=torch.long), "left": torch.zeros(n, dtype=torch.long),
            "height": torch.full((n,), side), "width": torch.full((n,), side)}
    torch.testing.assert_close(RandomResizedCrop(side).apply(batch, full), batch, atol=0, rtol=0)


def test_rrc_scale_distribution() -> None:
    x = torch.zeros(5000, 1, 64, 64)
    p = RandomResizedCrop(32, scale=(0.2, 1.0)).sample(x, torch.Generator().manual_seed(2))
    area = (p["height"] * p["width"]).double() / 64**2
    # Accepted areas are ~U(0.2, 1) truncated by the fit test: the mean is below 0.6 but near it.
    assert 0.5 < float(area.mean()) < 0.62
    assert math.isclose(float((area < 0.3).double().mean()), 0.125, abs_tol=0.04)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_flip_extremes(batch: torch.Tensor, p: float) -> None:
    out = HorizontalFlip(p)(batch, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, batch.flip(-1) if p else batch, atol=0, rtol=0)


def test_flip_per_sample_matches_torchvision(batch: torch.Tensor) -> None:
    op = HorizontalFlip(0.5)
    params = op.sample(batch, torch.Generator().manual_seed(3))
    out = op.apply(batch, params)
    for i in range(batch.shape[0]):
        ref = TF.horizontal_flip(batch[i]) if params["apply"][i] else batch[i]
        torch.testing.assert_close(out[i], ref, atol=0, rtol=0)
    flips = HorizontalFlip(0.5).sample(torch.zeros(4000, 1, 2, 2), torch.Generator().manual_seed(4))["apply"]
    assert abs(float(flips.float().mean()) - 0.5) < 0.04
