"""What the supervised protocols (linear probe, fine-tuning) share: argument checks, a seeded
linear head, step-decay learning rates and accuracy.

Nothing here draws from torch's global random generator: heads are initialised from an explicit
:class:`torch.Generator`, so a protocol's result depends on its seed only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sslkit.errors import SSLKitError
from sslkit.evaluate.context import EvalContext


def check_positive(**values: float | None) -> None:
    """Raise :class:`SSLKitError` for any given option that is set but not positive (None = recipe default)."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise SSLKitError(f"{name} must be positive (got {value}); leave it unset for the recipe's default")


def check_labelled(ctx: EvalContext) -> None:
    """The train split must be labelled: unlabelled images (label -1) cannot train a classifier."""
    if bool((ctx.train.labels < 0).any()):
        raise SSLKitError(f"the train split of {ctx.train.info.name} has unlabelled images (label -1); "
                          f"evaluate with a labelled split")


def linear_head(in_features: int, num_classes: int, generator: torch.Generator,
                device: torch.device | str = "cpu") -> nn.Linear:
    """``nn.Linear(in_features, num_classes)`` with weight ~ N(0, 0.01) and bias 0 (METHODS.md §2.1).

    The weight is drawn on CPU from ``generator`` (torch's global generator is left alone), then
    moved to ``device``.
    """
    head = nn.utils.skip_init(nn.Linear, in_features, num_classes)
    with torch.no_grad():
        head.weight.copy_(torch.randn(num_classes, in_features, generator=generator) * 0.01)
        head.bias.zero_()
    return head.to(device)


def feature_dim(ctx: EvalContext) -> int:
    """Width of the backbone's pooled features (``num_features``, else one probe forward pass)."""
    dim = int(getattr(ctx.backbone.module, "num_features", 0) or 0)
    if dim:
        return dim
    size, channels = ctx.backbone.image_size, ctx.backbone.channels
    with torch.no_grad():
        return int(ctx.backbone.module(torch.zeros(1, channels, size, size, device=ctx.device)).shape[1])


def scaled_milestones(epochs: int, base_epochs: int, base_milestones: Sequence[int]) -> tuple[int, ...]:
    """The recipe's lr-decay epochs moved proportionally to a run of ``epochs`` epochs.

    ``scaled_milestones(50, 100, (60, 80)) == (30, 40)``; with the recipe's own length they are
    unchanged.
    """
    return tuple(round(m * epochs / base_epochs) for m in base_milestones)


def step_factor(epoch: int, milestones: Sequence[int], gamma: float = 0.1) -> float:
    """Multiplier of the base lr in (0-based) ``epoch``: ``gamma`` per milestone already reached."""
    return gamma ** sum(epoch >= m for m in milestones)


def correct(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """Number of rows whose arg-max is the label."""
    return int((logits.argmax(dim=1) == labels).sum())


@torch.no_grad()
def head_accuracy(head: nn.Module, features: torch.Tensor, labels: torch.Tensor, chunk: int = 8192) -> float:
    """Top-1 accuracy (a fraction) of ``head`` on rows of ``features``, in chunks."""
    device = next(head.parameters()).device
    hits = sum(correct(head(part.to(device)), target.to(device))
               for part, target in zip(features.split(chunk), labels.split(chunk), strict=True))
    return hits / max(len(labels), 1)
