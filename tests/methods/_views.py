"""Shared test input: two correlated 16-px grayscale views of a random batch."""

from __future__ import annotations

import torch


def two_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return {"standard": [x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)]}
