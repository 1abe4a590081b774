"""MoCo's InfoNCE with a queue of negatives (METHODS.md §3.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def infonce_queue(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Cross-entropy of logits ``[q.k, q.Q_1..K] / T`` with the positive at index 0.

    Args:
        q: ``(B, D)`` queries (normalised here); gradients flow into them.
        k: ``(B, D)`` positive keys (normalised and detached here).
        queue: ``(K, D)`` negative keys (unit norm, no gradient).
        temperature: Softmax temperature (0.2 MoCo v2 ImageNet, 0.1 the CIFAR demo).

    Returns:
        The mean loss over the batch.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    q = F.normalize(q.float(), dim=1)
    k = F.normalize(k.detach().float(), dim=1)
    positive = (q * k).sum(dim=1, keepdim=True)  # Bx1
    negative = q @ queue.detach().float().T  # BxK
    logits = torch.cat([positive, negative], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
