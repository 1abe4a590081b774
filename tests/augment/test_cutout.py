"""CutoutAbs (sslkit/augment/cutout.py) against the DSSL reference drawn with PIL.ImageDraw."""

from __future__ import annotations

import PIL.ImageDraw
import torch

from sslkit.augment.cutout import cutout, cutout_corners
from tests.augment._pil import from_pil, to_pil

FILL = (125, 123, 114)


def _reference(img, v: float, cx: float, cy: float):
    """rand_aug_custom.py CutoutAbs with the centre given instead of drawn."""
    w, h = img.size
    x0, y0 = int(max(0, cx - v / 2.0)), int(max(0, cy - v / 2.0))
    x1, y1 = min(w, x0 + v), min(h, y0 + v)
    img = img.copy()
    PIL.ImageDraw.Draw(img).rectangle((x0, y0, x1, y1), FILL)
    return img


def test_cutout_matches_pil_rectangle() -> None:
    g = torch.Generator().manual_seed(0)
    n, h, w = 24, 20, 26
    x = torch.randint(0, 256, (n, 3, h, w), generator=g).float() / 255
    v = torch.tensor([12.0, 12.0, 0.0, 40.0, 5.5, 13.333333333333334] * 4, dtype=torch.float64)
    cx = 1 + (w - 1) * torch.rand(n, generator=g, dtype=torch.float64)  # centres in (1, W]
    cy = 1 + (h - 1) * torch.rand(n, generator=g, dtype=torch.float64)
    cx[:2], cy[:2] = torch.tensor([float(w), 1.0]), torch.tensor([float(h), 1.0])  # both extremes
    x0, y0 = cutout_corners(cx, cy, v)
    out = cutout(x, x0, y0, v, torch.tensor(FILL) / 255)
    for i in range(n):
        ref = from_pil(_reference(to_pil(x[i]), float(v[i]), float(cx[i]), float(cy[i])))
        torch.testing.assert_close(out[i], ref, atol=1e-6, rtol=0)


def test_cutout_square_is_v_plus_one_pixels_and_input_kept() -> None:
    x = torch.zeros(1, 1, 32, 32)
    out = cutout(x, torch.tensor([4]), torch.tensor([6]), torch.tensor([12.0]), torch.tensor([1.0]))
    assert int(out.sum()) == 13 * 13 and float(out[0, 0, 6, 4]) == 1.0 and float(out[0, 0, 18, 16]) == 1.0
    assert float(x.sum()) == 0.0
