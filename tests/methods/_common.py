"""Shared helpers of the method tests: a two-view input and a short optimisation run."""

from __future__ import annotations

import torch


def two_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    """Two correlated 16-px grayscale views of a random batch."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return {"standard": [x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)]}


def losses_over_steps(model: torch.nn.Module, lr: float, steps: int = 15, batch: int = 16) -> list[float]:
    """Train ``model`` with SGD on one fixed batch of two views; the loss after every step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    views, losses = two_views(batch), []
    for _ in range(steps):
        loss = model(views, 0.0).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
