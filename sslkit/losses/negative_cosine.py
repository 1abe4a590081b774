"""Negative cosine similarity with stop-gradient on the target (SimSiam, DSSL)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``D(p, z) = -<n(p), n(sg(z))>`` averaged over the batch (METHODS.md §0.1).

    Args:
        p: ``(B, D)`` predictions; gradients flow into them.
        z: ``(B, D)`` targets; detached here, so no gradient reaches them.

    Returns:
        A scalar in [-1, 1].
    """
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()
