"""CutoutAbs: fill one square per sample with a constant colour (DSSL RandAugment, METHODS.md §1.2a).

The reference (``DSSL@*/augmentations/rand_aug_custom.py``, from rpmcruz/autoaugment) draws a
centre ``(cx, cy)``, takes the corner ``x0 = int(max(0, cx - v / 2))`` (same for ``y0``) and the
opposite corner ``x1 = min(W, x0 + v)``, and draws the rectangle with ``PIL.ImageDraw``, which
fills both corners *inclusively* after truncating them to integers: the square is ``int(v) + 1``
pixels wide (clipped at the image border). Its centre is drawn with ``np.random.uniform(w)``,
which is ``uniform(low=w, high=1)``: a centre in ``(1, W]``, not ``[0, W)``.
"""

from __future__ import annotations

import torch


def cutout_corners(cx: torch.Tensor, cy: torch.Tensor, size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corners ``(x0, y0)`` (int64, ``(B,)``) of the squares centred at ``(cx, cy)``."""
    half = size.to(torch.float64) / 2.0
    x0 = (cx.to(torch.float64) - half).clamp(min=0.0).floor().long()
    y0 = (cy.to(torch.float64) - half).clamp(min=0.0).floor().long()
    return x0, y0


def cutout(x: torch.Tensor, x0: torch.Tensor, y0: torch.Tensor, size: torch.Tensor,
           fill: torch.Tensor) -> torch.Tensor:
    """Fill the square of columns ``x0 .. x0 + int(size)`` and rows ``y0 .. y0 + int(size)`` (inclusive).

    Args:
        x: ``(B, C, H, W)`` float batch.
        x0: ``(B,)`` integer left columns.
        y0: ``(B,)`` integer top rows.
        size: ``(B,)`` side ``v`` in pixels (truncated to an integer; ``v + 1`` pixels are filled,
            PIL's inclusive rectangle, clipped to the image).
        fill: ``(C,)`` fill values in [0, 1].

    Returns:
        A new batch with the squares filled.
    """
    _, ch, h, w = x.shape
    dev = x.device
    x0, y0 = x0.to(dev).view(-1, 1), y0.to(dev).view(-1, 1)
    x1 = torch.minimum(x0 + size.to(dev).to(torch.float64).floor().long().view(-1, 1),
                       torch.full_like(x0, w))
    y1 = torch.minimum(y0 + size.to(dev).to(torch.float64).floor().long().view(-1, 1),
                       torch.full_like(y0, h))
    cols = torch.arange(w, device=dev).view(1, -1)
    rows = torch.arange(h, device=dev).view(1, -1)
    in_cols = (cols >= x0) & (cols <= x1)  # BxW
    in_rows = (rows >= y0) & (rows <= y1)  # BxH
    box = (in_rows.unsqueeze(2) & in_cols.unsqueeze(1)).unsqueeze(1)  # Bx1xHxW
    fill = fill.to(device=dev, dtype=x.dtype).view(1, ch, 1, 1)
    return torch.where(box, fill, x)
