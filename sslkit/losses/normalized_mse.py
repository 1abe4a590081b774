"""Normalised mean squared error, BYOL's regression loss (METHODS.md §0.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalized_mse(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``l(p, z) = ||n(p) - n(sg(z))||^2 = 2 - 2 <n(p), n(sg(z))>`` averaged over the batch.

    Args:
        p: ``(B, D)`` online predictions; gradients flow into them.
        z: ``(B, D)`` targets; detached here.

    Returns:
        A scalar in [0, 4].
    """
    return (2.0 - 2.0 * F.cosine_similarity(p, z.detach(), dim=-1)).mean()
