"""Per-sample random draws from an explicit generator (drawn on CPU, moved to the batch's device).

Every op draws its per-sample parameters through :func:`rand`, :func:`randint`, :func:`uniform` or
:func:`bernoulli`. Inside :func:`batch_shard` (the trainer's multi-process step), a process holding
rows ``[offset, offset + b)`` of a global batch of ``total`` draws the parameters of the whole global
batch from the generator every process seeds alike, and keeps its own rows: sample ``i`` of the
global batch gets the same augmentation whatever the number of processes, so N processes train on
exactly the views one process would.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence

import torch

_SHARD: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("sslkit_batch_shard", default=None)


@contextlib.contextmanager
def batch_shard(offset: int, total: int) -> Iterator[None]:
    """Draw per-sample parameters for a global batch of ``total`` and keep rows from ``offset`` on."""
    token = _SHARD.set((offset, total) if total > 0 else None)
    try:
        yield
    finally:
        _SHARD.reset(token)


def _global(shape: Sequence[int], batch_dim: int) -> tuple[list[int], slice | None]:
    """The shape to draw and the slice of it that is this process's, along ``batch_dim``."""
    shape = list(shape)
    shard = _SHARD.get()
    if shard is None:
        return shape, None
    offset, total = shard
    if offset + shape[batch_dim] > total:
        raise ValueError(f"batch of {shape[batch_dim]} at offset {offset} exceeds the global batch {total}")
    local = slice(offset, offset + shape[batch_dim])
    shape[batch_dim] = total
    return shape, local


def _local(values: torch.Tensor, part: slice | None, batch_dim: int) -> torch.Tensor:
    if part is None:
        return values
    return values.narrow(batch_dim, part.start, part.stop - part.start)


def rand(*shape: int, generator: torch.Generator | None, dtype: torch.dtype | None = None,
         batch_dim: int = 0) -> torch.Tensor:
    """``torch.rand(*shape)`` whose dimension ``batch_dim`` is the batch (sharded as described above)."""
    full, part = _global(shape, batch_dim)
    return _local(torch.rand(*full, generator=generator, dtype=dtype), part, batch_dim)


def randint(low: int, high: int, shape: Sequence[int], *, generator: torch.Generator | None,
            batch_dim: int = 0) -> torch.Tensor:
    """``torch.randint(low, high, shape)`` whose dimension ``batch_dim`` is the batch (sharded)."""
    full, part = _global(shape, batch_dim)
    return _local(torch.randint(low, high, full, generator=generator), part, batch_dim)


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
    u = rand(n, generator=generator)
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
    return (rand(n, generator=generator) < p).to(device)


def check_probability(name: str, p: float) -> float:
    """Return ``p`` as a float after checking it lies in [0, 1]."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    return p
