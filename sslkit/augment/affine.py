"""Per-sample affine warps with PIL's nearest-neighbour rule (RandAugment's Rotate, Shear, Translate).

The RandAugment variants of METHODS.md §1.2 warp PIL images with ``img.rotate(deg)`` and
``img.transform(size, AFFINE, (a, b, c, d, e, f))``, which maps every *output* pixel centre
``(x + 0.5, y + 0.5)`` to the input point ``(a x' + b y' + c, d x' + e y' + f)`` and takes the
pixel that contains it (nearest neighbour, PIL's default resample); points outside the image get
the fill colour (black by default). :func:`warp_nearest` reproduces that rule exactly, including
PIL's two code paths: a pure scale/translation (``b == d == 0``) is evaluated in floating point,
any other matrix in 16.16 fixed point (``libImaging/Geometry.c``: ``affine_fixed``). The result
is one ``gather`` per batch with per-sample matrices, on any device.

``F.grid_sample(mode="nearest")`` was not used: it rounds half to even at pixel boundaries where
PIL floors, so an integer translation already moves whole rows by one pixel.
"""

from __future__ import annotations

import math

import torch

_FIX = 65536.0  # PIL's 16.16 fixed point


def rotate_matrix(degrees: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """PIL's ``Image.rotate`` matrices (counter-clockwise by ``degrees``, about the image centre).

    Args:
        degrees: ``(B,)`` angles; positive turns the content counter-clockwise, as PIL.
        height: Image height.
        width: Image width.

    Returns:
        ``(B, 6)`` float64 output-to-input coefficients ``(a, b, c, d, e, f)``.
    """
    rad = -degrees.to(torch.float64) * (math.pi / 180.0)
    # PIL rounds the trigonometric terms to 15 decimals (so that 90 degrees is exact).
    cos = torch.round(torch.cos(rad), decimals=15)
    sin = torch.round(torch.sin(rad), decimals=15)
    cx, cy = width / 2.0, height / 2.0
    c = cos * -cx + sin * -cy + cx
    f = -sin * -cx + cos * -cy + cy
    return torch.stack([cos, sin, c, -sin, cos, f], dim=1)


def shear_matrix(factor: torch.Tensor, axis: str) -> torch.Tensor:
    """``(1, v, 0, 0, 1, 0)`` (axis ``"x"``) or ``(1, 0, 0, v, 1, 0)`` (``"y"``) per sample: ``(B, 6)``."""
    v = factor.to(torch.float64)
    one, zero = torch.ones_like(v), torch.zeros_like(v)
    if axis == "x":
        return torch.stack([one, v, zero, zero, one, zero], dim=1)
    if axis == "y":
        return torch.stack([one, zero, zero, v, one, zero], dim=1)
    raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")


def translate_matrix(pixels: torch.Tensor, axis: str) -> torch.Tensor:
    """``(1, 0, t, 0, 1, 0)`` (axis ``"x"``) or ``(1, 0, 0, 0, 1, t)`` (``"y"``): ``(B, 6)``.

    As in the RandAugment code, a positive ``t`` samples the input ``t`` pixels further right
    (down), so the content moves left (up).
    """
    t = pixels.to(torch.float64)
    one, zero = torch.ones_like(t), torch.zeros_like(t)
    if axis == "x":
        return torch.stack([one, zero, t, zero, one, zero], dim=1)
    if axis == "y":
        return torch.stack([one, zero, zero, zero, one, t], dim=1)
    raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")


def _source_float(matrix: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PIL's scale/translation path (``ImagingScaleAffine``, ``b == d == 0``): floor of the mapped
    pixel centre in floating point. Returns columns ``(B, 1, W)`` and rows ``(B, H, 1)`` (int64)."""
    dev = matrix.device
    a, c, e, f = (matrix[:, i].view(-1, 1, 1) for i in (0, 2, 4, 5))
    xs = torch.arange(width, device=dev, dtype=torch.float64).view(1, 1, -1)
    ys = torch.arange(height, device=dev, dtype=torch.float64).view(1, -1, 1)
    return torch.floor(c + a * 0.5 + a * xs).long(), torch.floor(f + e * 0.5 + e * ys).long()


def _source_fixed(matrix: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PIL's general path (``affine_fixed``): coefficients rounded to 1/65536, the mapped pixel
    centre accumulated in 16.16 fixed point, then an arithmetic shift. Columns, rows ``(B, H, W)``."""
    dev = matrix.device
    q = torch.floor(matrix * _FIX + 0.5).long()  # Bx6
    a, b, d, e = (q[:, i].view(-1, 1, 1) for i in (0, 1, 3, 4))
    m = matrix.unbind(dim=1)
    c = torch.floor((m[2] + m[0] * 0.5 + m[1] * 0.5) * _FIX + 0.5).long().view(-1, 1, 1)
    f = torch.floor((m[5] + m[3] * 0.5 + m[4] * 0.5) * _FIX + 0.5).long().view(-1, 1, 1)
    xs = torch.arange(width, device=dev).view(1, 1, -1)
    ys = torch.arange(height, device=dev).view(1, -1, 1)
    col = torch.div(c + a * xs + b * ys, 65536, rounding_mode="floor")
    row = torch.div(f + d * xs + e * ys, 65536, rounding_mode="floor")
    return col, row


def warp_nearest(x: torch.Tensor, matrix: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Warp every sample with its own PIL affine matrix (nearest neighbour, constant fill).

    Args:
        x: ``(B, C, H, W)`` float batch.
        matrix: ``(B, 6)`` output-to-input coefficients in PIL's convention.
        fill: ``(C,)`` fill value for pixels that map outside the image.

    Returns:
        The warped batch, same shape (a new tensor).
    """
    b, ch, h, w = x.shape
    matrix = matrix.to(device=x.device, dtype=torch.float64)
    scale_only = (matrix[:, 1] == 0) & (matrix[:, 3] == 0)
    if bool(scale_only.all()):  # translations: rows and columns separable
        col, row = _source_float(matrix, h, w)
    elif not bool(scale_only.any()):  # rotations, shears
        col, row = _source_fixed(matrix, h, w)
    else:
        col_f, row_f = _source_float(matrix, h, w)
        col_q, row_q = _source_fixed(matrix, h, w)
        pick = scale_only.view(-1, 1, 1)
        col, row = torch.where(pick, col_f, col_q), torch.where(pick, row_f, row_q)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)  # BxHxW
    # Outside pixels read an extra last "pixel" holding the fill: one gather, no select after it.
    index = torch.where(inside, row * w + col, h * w).view(b, 1, h * w).expand(b, ch, h * w)
    fill = fill.to(device=x.device, dtype=x.dtype).view(1, ch, 1).expand(b, ch, 1)
    source = torch.cat([x.reshape(b, ch, h * w), fill], dim=2)  # Bx C x (HW + 1)
    return source.gather(2, index).view(b, ch, h, w)
