"""A FIFO memory of past target embeddings (MoCo's negatives, ReSSL's relation memory; METHODS.md §9).

Keys live in a registered buffer, so the queue is part of the method's ``state_dict`` and a resumed
run continues with the same negatives. Initialised with random unit vectors, as the official code.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class MemoryQueue(nn.Module):
    """``size`` L2-normalised keys of dimension ``dim``, replaced oldest first.

    Args:
        dim: Key dimension.
        size: Number of keys; must be a multiple of the (global) batch enqueued each step.
    """

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))  # KxD
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self._next: int | None = None  # host copy of ``pointer``: no device sync per enqueue

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    def read(self) -> torch.Tensor:
        """The ``(K, D)`` keys (do not modify in place while a graph that used them is alive)."""
        return self.keys

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Replace the oldest entries by ``keys`` (``(B, D)``; gathered from every process first)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [torch.empty_like(keys) for _ in range(dist.get_world_size())]
            dist.all_gather(gathered, keys.contiguous())
            keys = torch.cat(gathered)
        n = keys.shape[0]
        if self.size % n:
            raise ValueError(f"queue size {self.size} is not a multiple of the global batch {n}; "
                             f"choose queue_size as a multiple of the batch size")
        start = int(self.pointer) if self._next is None else self._next
        self.keys[start:start + n] = F.normalize(keys.detach().to(self.keys.dtype), dim=1)
        self._next = (start + n) % self.size
        self.pointer.fill_(self._next)

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # a loaded pointer replaces the host copy
        super()._load_from_state_dict(*args, **kwargs)
        self._next = None
