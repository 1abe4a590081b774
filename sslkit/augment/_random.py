"""Per-sample random draws from an explicit generator (drawn on CPU, moved to the batch's device)."""

from __future__ import annotations

import torch


def uniform(n: int, low: float, high: float, generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Draw ``n`` float32 values uniformly from ``[low, high)``.

    Args:
        n: Number of values (the batch size).
        low: Lower bound.
        high: Upper bound.
        generator: CPU generator; ``None`` uses torch's default generator.
        device: Where the result goes.

    Returns:
        A ``(n,)`` float32 tensor on ``device``.
    """
    u = torch.rand(n, generator=generator)
    return (u * (high - low) + low).to(device)


def bernoulli(n: int, p: float, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Draw ``n`` booleans that are ``True`` with probability ``p`` (exactly never for 0, always for 1).

    Args:
        n: Number of values.
        p: Probability of ``True``.
        generator: CPU generator; ``None`` uses torch's default generator.
        device: Where the result goes.

    Returns:
        A ``(n,)`` bool tensor on ``device``.
    """
    return (torch.rand(n, generator=generator) < p).to(device)


def check_probability(name: str, p: float) -> float:
    """Return ``p`` as a float after checking it lies in [0, 1]."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    return p
