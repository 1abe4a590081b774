"""The Method contract: the only thing the engine imports from ``sslkit.methods``.

A method is a small ``nn.Module`` built from a backbone. It declares the views it consumes as
named roles (with lineage: a view may be *derived from* another view's pixels), computes its loss
in ``forward(views, progress)``, updates its own state in ``after_step`` (EMA targets, queues) and
says how its parameters are optimised in ``param_groups``. The engine never special-cases a
method, and a method never runs the optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class ViewSpec:
    """A named role of views a method consumes.

    Attributes:
        role: The key in the ``views`` dict the method receives (e.g. ``"standard"``).
        count: How many views of this role per image.
        policy: Registry name of the default augmentation policy (``sslkit.augmentations``), or
            one name per view for asymmetric views (BYOL: ``("byol-1", "byol-2")``).
        options: Default keyword arguments of that policy, or one mapping per view.
        derived_from: Role whose augmented pixels this role is computed from (view ``i`` of this
            role from view ``i`` of the source, DSSL's partial order); ``None`` = from the image.
    """

    role: str
    count: int = 2
    policy: str | tuple[str, ...] = "simclr"
    options: Mapping[str, Any] | tuple[Mapping[str, Any], ...] = field(default_factory=dict)
    derived_from: str | None = None

    def per_view(self) -> list[tuple[str, dict[str, Any]]]:
        """The default ``(policy, options)`` of each of the ``count`` views."""
        policies = self.policy if isinstance(self.policy, tuple) else (self.policy,) * self.count
        options = self.options if isinstance(self.options, tuple) else (self.options,) * self.count
        if len(policies) != self.count or len(options) != self.count:
            raise ValueError(f"view role {self.role!r}: give one policy (and options) or exactly {self.count}")
        return [(name, dict(opts)) for name, opts in zip(policies, options, strict=True)]


@dataclass
class StepOutput:
    """What ``Method.forward`` returns.

    Attributes:
        loss: Scalar loss to minimise.
        logs: Extra scalars to log (tensors are fine: the engine reads them only at log steps).
        embeddings: ``(B, D)`` embeddings whose normalised std feeds the collapse monitor.
    """

    loss: torch.Tensor
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)
    embeddings: torch.Tensor | None = None


class Method(nn.Module):
    """Base class of every self-supervised method.

    Subclasses set ``views`` and ``presets`` and implement ``forward``. ``presets`` maps a preset
    name (``"paper"``, ``"quick"``) to training-config values (backbone, epochs, batch_size, lr,
    optimizer, ...) and, under the key ``"method"``, constructor keyword arguments.
    """

    views: ClassVar[tuple[ViewSpec, ...]] = ()
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        """Compute the loss on one batch of views; ``progress`` in [0, 1] drives schedules."""
        raise NotImplementedError

    def after_step(self, progress: float) -> None:
        """Called after every optimizer step (EMA updates, queues). Default: nothing."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Representation used for evaluation and export: the backbone's pooled features."""
        return self.backbone(images)

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups: no weight decay on norms and biases (1-D parameters).

        A group may set ``fixed_lr=True`` to be excluded from the learning-rate schedule.
        """
        decay, no_decay = [], []
        for _, param in self.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim <= 1 else decay).append(param)
        return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass
class Embedding:
    """One view's outputs in a pairwise method.

    Attributes:
        online: What the loss trains (a prediction for SimSiam/BYOL, the projection for SimCLR).
        target: What other views are pulled towards. Already detached where the method stops the
            gradient (SimSiam's own projection, BYOL's EMA projection); with gradient for SimCLR and
            Barlow Twins, where both sides of a pair are trained.
    """

    online: torch.Tensor
    target: torch.Tensor


class PairwiseMethod(Method):
    """A method whose loss is built from ordered (online view, target view) pairs.

    Subclasses implement :meth:`embed` (one forward pass of one view batch) and :meth:`pair_loss`,
    and override the other hooks only where the method needs to:

    * :meth:`begin_step`: state updates before any view is embedded (MoCo's key encoder);
    * :meth:`standard_loss`: the base loss on the two ``standard`` views from their already
      computed embeddings (default: the symmetrised pair loss of SimSiam; SimCLR's NT-Xent over 2B,
      Barlow Twins' one cross-correlation, BYOL's summed directions, MoCo's queue InfoNCE);
    * :meth:`step_logs` (extra scalars) and :meth:`monitor_embedding` (collapse monitor input).

    ``forward`` is these hooks in order. Compositions (DSSL's directional heavy -> standard term,
    RSA) call the same hooks, embed every view once and add their own pairs, so a base method is
    written once and any plugin's ``PairwiseMethod`` composes for free.
    """

    views = (ViewSpec("standard", count=2, policy="simclr"),)

    def begin_step(self, progress: float) -> None:
        """Called once per step before any view is embedded (e.g. a momentum update). Default: nothing."""

    def embed(self, x: torch.Tensor) -> Embedding:
        """Online output and target of one batch of views (each view is its own BN batch)."""
        raise NotImplementedError

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of one ordered pair: ``online`` (of view a) towards ``target`` (of view b)."""
        raise NotImplementedError

    def standard_loss(self, e1: Embedding, e2: Embedding) -> torch.Tensor:
        """The base loss of the two standard views: ``1/2 [l(o1, t2) + l(o2, t1)]`` by default."""
        return 0.5 * (self.pair_loss(e1.online, e2.target) + self.pair_loss(e2.online, e1.target))

    def step_logs(self, progress: float) -> dict[str, torch.Tensor | float]:
        """Extra scalars to log for this step (e.g. BYOL's EMA momentum). Default: none."""
        return {}

    def monitor_embedding(self, e: Embedding) -> torch.Tensor:
        """The ``(B, D)`` embedding of a standard view that feeds the collapse monitor (detached)."""
        return e.target.detach()

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        self.begin_step(progress)
        x1, x2 = views["standard"]
        e1, e2 = self.embed(x1), self.embed(x2)
        return StepOutput(loss=self.standard_loss(e1, e2), logs=self.step_logs(progress),
                          embeddings=self.monitor_embedding(e1))
