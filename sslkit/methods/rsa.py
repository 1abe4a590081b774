"""RSA: Reducing Semantic Shift from Aggressive Augmentations (NeurIPS 2022; METHODS.md §5).

BYOL-shaped: an online network ``q(g(f(.)))`` and an EMA target ``g'(f'(.))``. Each image gives two
weak views ``W_i`` (crop + flip) and two aggressive views ``A_i`` derived from them (colour stage on
the same crop). Only aggressive views pass through the online branch, only weak views through the
target. Aggressive pairs may no longer share semantics, but networks fit clean patterns first, so
the aggressive-aggressive term gets a weight ``beta_t`` that decays (cosine) from ``beta_0`` to 0
while the aggressive-weak term's weight ``1 - beta_t`` grows (METHODS.md §5.1)::

    u_i = n(q(g(f(A_i))))      w_i = n(g'(f'(W_i)))  (no grad)
    L = beta_t [l(u1, sg u2) + l(u2, sg u1)] + (1 - beta_t) [l(u1, w2) + l(u2, w1)],  l = 2 - 2<a, b>

The aggressive-aggressive target is the *detached online prediction* of the other aggressive view,
not an EMA output, and the aggressive-weak pair is cross-view (A_1 with W_2) (METHODS.md §10.4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sslkit.losses import normalized_mse
from sslkit.methods.base import Embedding, PairwiseMethod, StepOutput, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.ema import EMA, cosine_tau
from sslkit.models.heads import mlp


def rsa_beta(beta_base: float, progress: float) -> float:
    """RSA's weight of the aggressive-aggressive pairs, ``beta_0 (1 + cos(pi t / T)) / 2`` (§5.1 step 6).

    Args:
        beta_base: ``beta_0``, the weight at ``t = 0``.
        progress: ``t / T`` in [0, 1].

    Returns:
        ``beta_0`` at 0, ``beta_0 / 2`` at 1/2 and 0 at 1.
    """
    return beta_base * (1.0 + math.cos(math.pi * progress)) / 2.0


class RSABYOL(PairwiseMethod):
    """RSA over BYOL: scheduled aggressive-aggressive vs aggressive-weak pairs (METHODS.md §5)."""

    views = (
        ViewSpec("weak", count=2, policy="weak"),  # RRC(size, (0.2, 1)) + flip (§5.3)
        ViewSpec("aggressive", count=2, policy="rsa-colour", derived_from="weak"),  # same crop + colour stage
    )
    presets = {
        # CIFAR-10/100 column of §5.3 (RSA@train_single.py): torchvision ResNet-18 with the CIFAR stem and
        # zero_init_residual, B=256, SGD momentum 0.9, lr 0.1 x (B // 256), wd 5e-4, cosine without warm-up,
        # 200 epochs, tau_0 0.99, beta_0 0.4 (code default; the CIFAR-100 README command uses 0.3).
        # sslkit scales linearly (lr x B / 256), which equals the code's integer B // 256 at B = 256 (and
        # differs only at other batch sizes). Deviation: the engine's cosine is per iteration, the
        # single-GPU code's per epoch.
        "paper": {
            "backbone": "resnet18", "backbone_options": {"zero_init_residual": True}, "epochs": 200,
            "batch_size": 256, "lr": 0.1, "weight_decay": 5e-4, "optimizer": "sgd", "momentum": 0.9,
            "warmup_epochs": 0,
            "method": {"proj_hidden_dim": 1024, "proj_dim": 128, "pred_hidden_dim": 1024, "tau_base": 0.99,
                       "beta_base": 0.4},
        },
        # The shared CPU recipe with BYOL's quick heads and the paper's lr 0.1 (5 epochs on digits, one seed:
        # kNN 80.8% at lr 0.1 vs 72.1% at BYOL's quick lr 0.5); the roles keep their ViewSpec policies
        # (weak crop, rsa-colour), so the preset names no augmentation.
        "quick": quick(lr=0.1, weight_decay=1e-5, aug={},
                       method={"proj_hidden_dim": 512, "proj_dim": 128, "pred_hidden_dim": 512, "tau_base": 0.99,
                               "beta_base": 0.4}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_hidden_dim: int = 1024,  # §5.2 ResNet-18: Linear(d, 1024) -> BN -> ReLU -> Linear(1024, 128, no bias)
        proj_dim: int = 128,  # ResNet-50 heads: hidden 4096, out 256
        pred_hidden_dim: int = 1024,  # predictor: the same shape, 128 -> 1024 -> 128
        tau_base: float = 0.99,  # §5.3, every dataset
        beta_base: float = 0.4,  # RSA code default; 0.3 in the CIFAR-100 README command
    ) -> None:
        super().__init__(backbone)
        if not 0.0 <= tau_base <= 1.0:
            raise ValueError(f"tau_base must be in [0, 1], got {tau_base}")
        if not 0.0 <= beta_base <= 1.0:
            raise ValueError(f"beta_base must be in [0, 1] (it weighs two loss terms as beta and 1 - beta), "
                             f"got {beta_base}")
        self.tau_base, self.beta_base = tau_base, beta_base
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim, bias=False)
        self.predictor = mlp(proj_dim, pred_hidden_dim, proj_dim, bias=False)
        self.target = EMA([self.backbone, self.projector])  # frozen; not in param_groups, not exported

    def online(self, x: torch.Tensor) -> torch.Tensor:
        """``q(g(f(x)))``, the online prediction (BxD)."""
        return self.predictor(self.projector(self.backbone(x)))

    @torch.no_grad()
    def target_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``g'(f'(x))``, the EMA target's projection (BxD), without gradient."""
        return self.target(x)

    def embed(self, x: torch.Tensor) -> Embedding:
        return Embedding(online=self.online(x), target=self.target_projection(x))

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return normalized_mse(online, target)  # 2 - 2<n(p), n(sg z)>, batch mean; target detached inside

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        """One step; the schedules are evaluated at ``progress = t / T`` of the step being taken.

        The code increments its 1-based ``t`` before computing them (§5.1 step 2); the engine's
        ``progress`` counts completed steps, so the schedules here lag the code's by one step of T
        (beta and tau differ by less than ``pi / (2T)`` of their range).
        """
        tau, beta = cosine_tau(self.tau_base, progress), rsa_beta(self.beta_base, progress)
        if self.training:  # §5.1 step 2: the target moves at the start of the step, before any pass
            self.target.update([self.backbone, self.projector], tau)
        w1, w2 = views["weak"]
        a1, a2 = views["aggressive"]
        u1, u2 = self.online(a1), self.online(a2)  # BxD each, aggressive views only
        z1, z2 = self.target_projection(w1), self.target_projection(w2)  # BxD each, weak views only
        aggressive = self.pair_loss(u1, u2.detach()) + self.pair_loss(u2, u1.detach())  # sg: online prediction
        weak = self.pair_loss(u1, z2) + self.pair_loss(u2, z1)  # cross-view: A_1 with W_2, A_2 with W_1
        loss = beta * aggressive + (1.0 - beta) * weak
        logs = {"beta": beta, "tau": tau, "loss_aggressive": aggressive.detach(), "loss_weak": weak.detach()}
        # collapse monitor: the target's projection, as BYOL (the normalised predictions share a large
        # common component and read as collapsed even when the projections are well spread)
        return StepOutput(loss=loss, logs=logs, embeddings=z1)

    def after_step(self, progress: float) -> None:
        """Nothing: RSA's target moves at the start of the next step, in :meth:`forward`."""
