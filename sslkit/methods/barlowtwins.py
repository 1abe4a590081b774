"""Barlow Twins: Self-Supervised Learning via Redundancy Reduction (Zbontar et al., ICML 2021).

Two views, one encoder ``f`` + projector ``g``; the cross-correlation matrix of the two views'
batch-standardised projections is pulled towards the identity (METHODS.md §3.5). No negatives, no
predictor, no stop-gradient: decorrelating the dimensions prevents collapse.
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit.losses import barlow_twins
from sslkit.methods.base import Embedding, PairwiseMethod, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.heads import mlp


class BarlowTwins(PairwiseMethod):
    """Barlow Twins: cross-correlation towards the identity, no negatives (Zbontar et al. 2021)."""

    # The paper's augmentations are BYOL's two asymmetric views (METHODS.md §3.5, §1.1).
    views = (ViewSpec("standard", count=2, policy=("byol-1", "byol-2")),)
    presets = {
        # CIFAR recipe of solo-learn (METHODS.md §3.5): ResNet-18, projector 2048-2048-2048,
        # lambda 0.0051, scale_loss 0.1, lr 0.3, wd 1e-4, 1000 epochs (92.10% online linear), with
        # its "asymmetric" CIFAR augmentations (§1.1: BYOL's two views without blur, solarize 0 / 0.2).
        # Difference, marked: solo-learn uses LARS and sslkit has no LARS yet (SGD here, expect re-tuning).
        "paper": {
            "backbone": "resnet18", "epochs": 1000, "batch_size": 256, "lr": 0.3,
            "weight_decay": 1e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "aug": {"standard.1": "byol-1:blur_p=0", "standard.2": "byol-2:blur_p=0"},
            "method": {"proj_hidden_dim": 2048, "proj_dim": 2048, "lambd": 0.0051, "scale_loss": 0.1},
        },
        # A CPU recipe for 28-32 px images in the shape of SimSiam's quick preset (small CNN, batch
        # 128, strength-1 colour jitter and blur). With plain SGD the loss scale matters: on digits
        # (10 epochs, kNN top-1, seeds 0-2) lambd 0.02 / scale_loss 0.025 gave 0.76 / 0.68 / 0.60
        # against 0.62 / 0.57 / 0.44 for the paper's 0.0051 / 0.1. A small check, not a full search.
        "quick": quick(lr=0.1, weight_decay=1e-5,
                       method={"proj_hidden_dim": 512, "proj_dim": 512, "lambd": 0.02, "scale_loss": 0.025}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_hidden_dim: int = 8192,  # METHODS.md §3.5, ImageNet (solo-learn CIFAR: 2048)
        proj_dim: int = 8192,  # ImageNet (solo-learn CIFAR: 2048)
        lambd: float = 0.0051,  # paper, off-diagonal weight
        scale_loss: float = 1.0,  # paper: 1.0; solo-learn multiplies the loss by 0.1 on CIFAR
    ) -> None:
        super().__init__(backbone)
        self.lambd = lambd
        self.scale_loss = scale_loss
        # (Linear no bias -> BN -> ReLU) x 2 -> Linear no bias.
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim, num_layers=3, bias=False)

    def embed(self, x: torch.Tensor) -> Embedding:
        z = self.projector(self.backbone(x))  # BxD
        return Embedding(online=z, target=z)  # no stop-gradient: both views are trained

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Barlow Twins loss of one pair (symmetric in its inputs), times ``scale_loss``.

        Used by compositions (DSSL's heavy -> standard pairs, with ``target`` detached by the caller).
        """
        return self.scale_loss * barlow_twins(online, target, self.lambd)

    def standard_loss(self, e1: Embedding, e2: Embedding) -> torch.Tensor:
        """``scale_loss * L(z1, z2)`` on the two standard views: one cross-correlation, not a sum of pairs."""
        return self.pair_loss(e1.online, e2.online)
