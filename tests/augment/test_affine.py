"""Per-sample affine warps (sslkit/augment/affine.py) against PIL's rotate / AFFINE transform.

PIL's nearest-neighbour rule (floor of the mapped pixel centre; 16.16 fixed point for rotations and
shears) is reproduced exactly: these tests require every pixel to match, on non-square images so
that the axes cannot be swapped unnoticed.
"""

from __future__ import annotations

import torch
from PIL import Image

from sslkit.augment import affine
from tests.augment._pil import per_sample, smooth_batch

H, W = 18, 22


def _images(channels: int, n: int) -> torch.Tensor:
    return smooth_batch(n, channels, H, W, seed=channels)


def test_rotate_matches_pil_exactly(batch: torch.Tensor) -> None:
    deg = torch.tensor([9.0, -9, 27, -27, 30, -30, 3, -3, 0, 12, -24, 6, 6.5, -15, 1, 29, 90, -90])
    x = _images(batch.shape[1], deg.numel())
    out = affine.warp_nearest(x, affine.rotate_matrix(deg, H, W), torch.zeros(x.shape[1]))
    torch.testing.assert_close(out, per_sample(lambda im, d: im.rotate(d), x, deg), atol=0, rtol=0)


def test_shear_matches_pil_exactly(batch: torch.Tensor) -> None:
    v = torch.linspace(-0.3, 0.3, 13, dtype=torch.float64)  # includes 0 (PIL's scale path)
    x = _images(batch.shape[1], v.numel())
    for axis, coeffs in (("x", lambda s: (1, s, 0, 0, 1, 0)), ("y", lambda s: (1, 0, 0, s, 1, 0))):
        out = affine.warp_nearest(x, affine.shear_matrix(v, axis), torch.zeros(x.shape[1]))
        ref = per_sample(lambda im, s: im.transform((W, H), Image.AFFINE, coeffs(s)), x, v)  # noqa: B023
        torch.testing.assert_close(out, ref, atol=0, rtol=0)


def test_translate_matches_pil_exactly(batch: torch.Tensor) -> None:
    t = torch.tensor([30.0, -30, 100 / 3, -100 / 3, 3, -3, 0, 7.5, -7.5, 19.999, 1, -1, 6.6, -6.6],
                     dtype=torch.float64)
    x = _images(batch.shape[1], t.numel())
    for axis, coeffs in (("x", lambda s: (1, 0, s, 0, 1, 0)), ("y", lambda s: (1, 0, 0, 0, 1, s))):
        out = affine.warp_nearest(x, affine.translate_matrix(t, axis), torch.zeros(x.shape[1]))
        ref = per_sample(lambda im, s: im.transform((W, H), Image.AFFINE, coeffs(s)), x, t)  # noqa: B023
        torch.testing.assert_close(out, ref, atol=0, rtol=0)


def test_mixed_batch_takes_each_samples_pil_path() -> None:
    """Translations (float path) and rotations (fixed point) in one call give the separate results."""
    x = _images(3, 6)
    m = torch.cat([affine.translate_matrix(torch.tensor([5.5, -2.0, 0.0]), "x"),
                   affine.rotate_matrix(torch.tensor([10.0, -20.0, 7.0]), H, W)])
    both = affine.warp_nearest(x, m, torch.zeros(3))
    torch.testing.assert_close(both[:3], affine.warp_nearest(x[:3], m[:3], torch.zeros(3)), atol=0, rtol=0)
    torch.testing.assert_close(both[3:], affine.warp_nearest(x[3:], m[3:], torch.zeros(3)), atol=0, rtol=0)


def test_fill_direction_and_identity() -> None:
    x = torch.rand(2, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    fill = torch.tensor([0.2, 0.4, 0.6])
    out = affine.warp_nearest(x, affine.translate_matrix(torch.tensor([3.0, -3.0]), "x"), fill)
    torch.testing.assert_close(out[0, :, :, :7], x[0, :, :, 3:], atol=0, rtol=0)  # +t: content moves left
    torch.testing.assert_close(out[0, :, :, 7:], fill.view(3, 1, 1).expand(3, 8, 3), atol=0, rtol=0)
    torch.testing.assert_close(out[1, :, :, 3:], x[1, :, :, :7], atol=0, rtol=0)
    same = affine.warp_nearest(x, affine.rotate_matrix(torch.zeros(2), 8, 10), fill)
    assert torch.equal(same, x) and not same.data_ptr() == x.data_ptr()
