"""Shared helpers of the method tests: a two-view input and a short optimisation run."""

from __future__ import annotations

import functools

import torch


def two_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    """Two correlated 16-px grayscale views of a random batch."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return {"standard": [x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)]}


def losses_over_steps(model: torch.nn.Module, lr: float, steps: int = 15, batch: int = 16,
                      views: dict[str, list[torch.Tensor]] | None = None,
                      optimizer: type[torch.optim.Optimizer] | None = None) -> list[float]:
    """Train ``model`` on one fixed batch of views (default: two views of ``batch`` images) with SGD
    (momentum 0.9) or ``optimizer``; the loss after every step.

    ``after_step`` is not called, so queues and EMA targets stay fixed and every step's loss is
    measured against the same negatives and targets.
    """
    optimizer = (optimizer or functools.partial(torch.optim.SGD, momentum=0.9))(model.parameters(), lr=lr)
    views, losses = views or two_views(batch), []
    for _ in range(steps):
        loss = model(views, 0.0).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
