"""ImageEnhance factors (sslkit/augment/enhance.py) against PIL on uint8 images, fixed factors.

Measured agreement: Brightness and Contrast < 1 grey level, Color and Sharpness < 1.4 levels: PIL
truncates every blended value to an integer level (and rounds its grayscale and smoothed
intermediates), the float versions do not. The tolerance is 1.5 levels.
"""

from __future__ import annotations

import pytest
import torch
from PIL import ImageEnhance

from sslkit.augment import enhance
from tests.augment._pil import per_sample, smooth_batch

TOL = 1.5 / 255
ENHANCERS = [(enhance.adjust_color, ImageEnhance.Color), (enhance.adjust_contrast, ImageEnhance.Contrast),
             (enhance.adjust_brightness, ImageEnhance.Brightness),
             (enhance.adjust_sharpness, ImageEnhance.Sharpness)]


@pytest.mark.parametrize(("ours", "ref"), ENHANCERS, ids=["color", "contrast", "brightness", "sharpness"])
def test_enhancers_match_pil(batch: torch.Tensor, ours, ref) -> None:
    for x in (batch, smooth_batch(12, batch.shape[1], 16, 20)):
        factors = torch.linspace(0.05, 1.9, x.shape[0], dtype=torch.float64)  # both variants' ranges
        expected = per_sample(lambda im, f: ref(im).enhance(f), x, factors)  # noqa: B023
        torch.testing.assert_close(ours(x, factors), expected, atol=TOL, rtol=0)


@pytest.mark.parametrize("fn", [e for e, _ in ENHANCERS])
def test_factor_one_is_identity_and_input_kept(batch: torch.Tensor, fn) -> None:
    before = batch.clone()
    out = fn(batch, torch.ones(batch.shape[0]))
    torch.testing.assert_close(out, batch, atol=1e-6, rtol=0)
    assert torch.equal(batch, before)


def test_color_is_identity_on_one_channel() -> None:
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(enhance.adjust_color(x, torch.full((4,), 0.3)), x)


def test_contrast_uses_the_rounded_mean_grey_level() -> None:
    x = torch.full((1, 1, 4, 4), 10 / 255)
    x[..., 0, 0] = 18 / 255  # mean level 10.5 -> PIL rounds to 11
    out = enhance.adjust_contrast(x, torch.zeros(1))
    torch.testing.assert_close(out, torch.full_like(x, 11 / 255), atol=1e-7, rtol=0)


def test_smooth_keeps_the_border_and_matches_the_kernel() -> None:
    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    out = enhance.smooth(x)
    kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    ref = torch.nn.functional.conv2d(x.view(6, 1, 6, 7), kernel.view(1, 1, 3, 3)).view(2, 3, 4, 5)
    torch.testing.assert_close(out[..., 1:-1, 1:-1], ref, atol=1e-6, rtol=0)
    border = torch.ones(6, 7, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    assert torch.equal(out[..., border], x[..., border])
