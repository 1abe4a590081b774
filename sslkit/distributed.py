"""Collectives that keep gradients, for losses and normalisations computed over the global batch.

With ``W`` processes, DDP averages the parameter gradients of the ``W`` per-process losses. A loss
that reads other processes' embeddings through :func:`gather` (or a sum through :func:`all_reduce`)
sends each embedding's gradient back to the process that computed it (the backward pass all-reduces
the incoming gradient), so the averaged gradient equals the gradient of the loss one process would
compute on the whole batch. Outside a process group (or with one process) both are the identity.
Only ``all_reduce`` and ``all_gather`` are used, which every backend (gloo on CPU, nccl) supports.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every process's loss contributes to these rows' gradients
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


class _AllReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        x = x.contiguous().clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def gather(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's ``x`` (same shape everywhere) along dim 0, in rank order, with gradients."""
    return _Gather.apply(x) if world_size() > 1 else x


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Sum of every process's ``x``, with gradients."""
    return _AllReduce.apply(x) if world_size() > 1 else x


def mean_over_processes(x: torch.Tensor) -> torch.Tensor:
    """Mean of a detached value over processes (for logging; one collective)."""
    if world_size() == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / world_size()


def gather_rows(values: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor,
                total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather every process's rows ``values[i]``, ``labels[i]`` of dataset items ``indices[i]`` (CPU
    tensors) and return the whole ``(total, ...)`` arrays in dataset order, on every process."""
    if world_size() == 1:
        order = torch.argsort(indices)
        return values[order], labels[order]
    parts: list = [None] * world_size()
    dist.all_gather_object(parts, (values, labels, indices))
    out_values = torch.empty(total, *values.shape[1:], dtype=values.dtype)
    out_labels = torch.empty(total, dtype=labels.dtype)
    seen = torch.zeros(total, dtype=torch.bool)
    for part_values, part_labels, part_indices in parts:
        out_values[part_indices], out_labels[part_indices] = part_values, part_labels
        seen[part_indices] = True
    if not bool(seen.all()):
        raise RuntimeError(f"gathered rows cover {int(seen.sum())} of {total} items")
    return out_values, out_labels
