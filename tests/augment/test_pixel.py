"""Level ops (sslkit/augment/pixel.py) against PIL's ImageOps on uint8 images, fixed parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import functional as TF

from sslkit.augment import pixel
from tests.augment._pil import per_sample, smooth_batch, to_pil

LEVEL = 1.0 / 255


def _batches(batch: torch.Tensor) -> list[torch.Tensor]:
    c = batch.shape[1]
    low = batch * 0.3 + 0.25  # low contrast: autocontrast and equalize have work to do
    return [batch, pixel.to_levels(low) / 255, smooth_batch(8, c, 16, 20)]


def test_levels_round_trip(batch: torch.Tensor) -> None:
    q = pixel.to_levels(batch)
    assert torch.equal(q, q.round()) and float(q.min()) >= 0 and float(q.max()) <= 255
    torch.testing.assert_close(pixel.from_levels(q, batch.dtype), batch, atol=1e-7, rtol=0)
    assert float(pixel.to_levels(torch.tensor([0.5 / 255 + 1e-4]))) == 1.0  # round, not truncate


def test_equalize_matches_pil_exactly(batch: torch.Tensor) -> None:
    for x in _batches(batch):
        ours = pixel.equalize(x)
        torch.testing.assert_close(ours, per_sample(ImageOps.equalize, x), atol=0, rtol=0)
        q = x.mul(255).round().to(torch.uint8)
        torch.testing.assert_close(ours, TF.equalize(q).float() / 255, atol=0, rtol=0)


def test_equalize_edge_cases() -> None:
    x = torch.zeros(3, 1, 4, 4)
    x[1, :, :2] = 0.5  # two occupied levels
    x[2, 0, 0, 0] = 1.0  # one pixel at the top: step == 0
    torch.testing.assert_close(pixel.equalize(x), per_sample(ImageOps.equalize, x), atol=0, rtol=0)
    assert torch.equal(pixel.equalize(x[:1]), x[:1])  # one occupied level: unchanged


def test_autocontrast_matches_pil_within_one_level(batch: torch.Tensor) -> None:
    # PIL truncates the stretched level to an integer; the float version does not.
    for x in _batches(batch):
        ours = pixel.autocontrast(x)
        torch.testing.assert_close(ours, per_sample(ImageOps.autocontrast, x), atol=LEVEL + 1e-6, rtol=0)
        for i in range(x.shape[0]):  # every non-constant band spans exactly [0, 1]
            for ch in range(x.shape[1]):
                if x[i, ch].max() > x[i, ch].min():
                    assert float(ours[i, ch].min()) == 0.0 and float(ours[i, ch].max()) == 1.0
    const = torch.full((2, batch.shape[1], 5, 5), 0.4)
    assert torch.equal(pixel.autocontrast(const), const)


def test_invert_is_exact(batch: torch.Tensor) -> None:
    torch.testing.assert_close(pixel.invert(batch), per_sample(ImageOps.invert, batch), atol=1e-7, rtol=0)


def test_posterize_matches_pil_exactly(batch: torch.Tensor) -> None:
    bits = torch.arange(batch.shape[0]) % 8 + 1  # every value 1..8
    ref = per_sample(lambda im, b: ImageOps.posterize(im, int(b)), batch, bits)
    torch.testing.assert_close(pixel.posterize(batch, bits), ref, atol=0, rtol=0)
    assert set(pixel.to_levels(pixel.posterize(batch, torch.ones(batch.shape[0]))).unique().tolist()) <= {0, 128}


@pytest.mark.parametrize("threshold", [0.0, 76.8, 128.0, 200.0, 256.0])
def test_solarize_matches_pil_exactly(batch: torch.Tensor, threshold: float) -> None:
    t = torch.full((batch.shape[0],), threshold, dtype=torch.float64)
    ref = per_sample(lambda im, v: ImageOps.solarize(im, v), batch, t)
    torch.testing.assert_close(pixel.solarize_levels(batch, t), ref, atol=0, rtol=0)


def test_solarize_add_matches_the_reference_formula(batch: torch.Tensor) -> None:
    """DSSL's SolarizeAdd: int array + v, clip to [0, 255], uint8 (truncation), solarize at 128."""
    add = torch.linspace(0, 110, batch.shape[0], dtype=torch.float64)  # includes 33.0 and thirds

    def reference(img: Image.Image, v: float) -> Image.Image:
        arr = np.clip(np.array(img).astype(int) + v, 0, 255).astype(np.uint8)
        return ImageOps.solarize(Image.fromarray(arr), 128)

    torch.testing.assert_close(pixel.solarize_add(batch, add), per_sample(reference, batch, add), atol=0, rtol=0)


def test_level_ops_are_pure_and_in_range(batch: torch.Tensor) -> None:
    before = batch.clone()
    n = batch.shape[0]
    outs = [pixel.autocontrast(batch), pixel.equalize(batch), pixel.invert(batch),
            pixel.posterize(batch, torch.full((n,), 3)), pixel.solarize_levels(batch, torch.full((n,), 100.0)),
            pixel.solarize_add(batch, torch.full((n,), 50.0))]
    assert torch.equal(batch, before)
    for out in outs:
        assert out.shape == batch.shape and out.dtype == batch.dtype
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert to_pil(batch[0]).size == (batch.shape[-1], batch.shape[-2])
