"""BYOL: Bootstrap Your Own Latent (Grill et al., NeurIPS 2020).

The online network ``q(g(f(.)))`` predicts the target network's projection ``g'(f'(.))`` of the
other view; the target is an EMA of the online backbone and projector whose momentum follows a
cosine schedule from ``tau_base`` to 1. ``L = l(q1, sg z'2) + l(q2, sg z'1)`` with ``l = 2 - 2cos``,
summed over both directions (METHODS.md §3.3). ``loss="cosine"`` and ``tau_schedule="constant"``
give the released DSSL-BYOL code's variant instead (§4.2: ``1/2 D + 1/2 D`` with the negative
cosine ``D``, a constant momentum applied after every step). The two views have the paper's
asymmetric policies, ``byol-1`` (blur 1.0, no solarize) and ``byol-2`` (blur 0.1, solarize 0.2).
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit.losses import negative_cosine, normalized_mse
from sslkit.methods.base import Embedding, PairwiseMethod, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.ema import EMA, cosine_tau
from sslkit.models.heads import mlp


class BYOL(PairwiseMethod):
    """BYOL: online predictor regresses an EMA target's projection, no negatives (Grill et al. 2020)."""

    views = (ViewSpec("standard", count=2, policy=("byol-1", "byol-2")),)
    presets = {
        # CIFAR recipe of solo-learn (METHODS.md §3.3): ResNet-18, projector 4096 -> 256, predictor
        # hidden 4096, tau 0.99 -> 1 (cosine), LARS lr 1.0, wd 1e-5, B=256, 1000 epochs (92.58% online
        # linear), "asymmetric" CIFAR augmentations (§1.1: BYOL's two views without blur).
        # NOT the paper's optimiser: sslkit has no LARS yet, so this is SGD; expect re-tuning.
        "paper": {
            "backbone": "resnet18", "epochs": 1000, "batch_size": 256, "lr": 1.0,
            "weight_decay": 1e-5, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "aug": {"standard.1": "byol-1:blur_p=0", "standard.2": "byol-2:blur_p=0"},
            "method": {"proj_hidden_dim": 4096, "proj_dim": 256, "pred_hidden_dim": 4096, "tau_base": 0.99},
        },
        # A CPU recipe in the shape of SimSiam's quick preset (not tuned for BYOL).
        "quick": quick(lr=0.5, weight_decay=1e-5,
                       method={"proj_hidden_dim": 512, "proj_dim": 128, "pred_hidden_dim": 512, "tau_base": 0.99}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_hidden_dim: int = 4096,  # METHODS.md §3.3: Linear(d, 4096) -> BN -> ReLU -> Linear(4096, 256)
        proj_dim: int = 256,
        pred_hidden_dim: int = 4096,  # predictor: the same shape, 256 -> 4096 -> 256
        tau_base: float = 0.996,  # ImageNet 1000 epochs; CIFAR presets use 0.99
        loss: str = "nmse",  # §3.3: 2 - 2cos summed over directions; "cosine": §4.2, 1/2 D + 1/2 D
        tau_schedule: str = "cosine",  # §0.2: tau_base -> 1; "constant": tau_base throughout (§4.2)
    ) -> None:
        super().__init__(backbone)
        if not 0.0 <= tau_base <= 1.0:
            raise ValueError(f"tau_base must be in [0, 1], got {tau_base}")
        if loss not in ("nmse", "cosine"):
            raise ValueError(f"loss must be 'nmse' (BYOL paper) or 'cosine' (DSSL-BYOL code), got {loss!r}")
        if tau_schedule not in ("cosine", "constant"):
            raise ValueError(f"tau_schedule must be 'cosine' (BYOL paper) or 'constant' (DSSL-BYOL code), "
                             f"got {tau_schedule!r}")
        self.tau_base, self.loss, self.tau_schedule = tau_base, loss, tau_schedule
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim)
        self.predictor = mlp(proj_dim, pred_hidden_dim, proj_dim)
        self.target = EMA([self.backbone, self.projector])  # frozen; not in param_groups, not exported

    def embed(self, x: torch.Tensor) -> Embedding:
        online = self.predictor(self.projector(self.backbone(x)))  # BxD
        with torch.no_grad():
            target = self.target(x)  # BxD, the EMA network's projection
        return Embedding(online=online, target=target)

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss == "cosine":
            return negative_cosine(online, target)  # D = -cos (§4.2)
        return normalized_mse(online, target)  # l = 2 - 2cos (§3.3)

    def standard_loss(self, e1: Embedding, e2: Embedding) -> torch.Tensor:
        """``l(o1, t2) + l(o2, t1)`` summed (§3.3), or ``1/2 D(o1, t2) + 1/2 D(o2, t1)`` (§4.2)."""
        loss = self.pair_loss(e1.online, e2.target) + self.pair_loss(e2.online, e1.target)
        return loss if self.loss == "nmse" else 0.5 * loss

    def tau(self, progress: float) -> float:
        """The EMA momentum at ``progress`` in [0, 1]."""
        return cosine_tau(self.tau_base, progress) if self.tau_schedule == "cosine" else self.tau_base

    def step_logs(self, progress: float) -> dict[str, torch.Tensor | float]:
        return {"tau": self.tau(progress)}

    def after_step(self, progress: float) -> None:
        """EMA update after the optimizer step, with the momentum of the step just taken."""
        self.target.update([self.backbone, self.projector], self.tau(progress))
