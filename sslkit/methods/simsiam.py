"""SimSiam: Exploring Simple Siamese Representation Learning (Chen & He, CVPR 2021).

Two views, one encoder ``f`` + projector ``g``, a predictor ``q``; the loss is the symmetrised
negative cosine between each view's prediction and the other view's stop-gradient projection:
``L = 1/2 D(p1, z2) + 1/2 D(p2, z1)`` (METHODS.md §3.4). No negatives, no EMA: the stop-gradient
and the predictor prevent collapse.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sslkit.losses import negative_cosine
from sslkit.methods.base import Embedding, PairwiseMethod, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.heads import mlp


class SimSiam(PairwiseMethod):
    """SimSiam: predictor + stop-gradient, no negatives, no momentum encoder (Chen & He 2021)."""

    views = (ViewSpec("standard", count=2, policy="simclr"),)
    presets = {
        # CIFAR-10 recipe (METHODS.md §3.4, as re-implemented in DSSL's simsiam_cifar10): ResNet-18
        # CIFAR stem, 2-layer projector 2048, predictor 512, SGD lr 0.03 x B/256 (0.06 at B=512),
        # momentum 0.9, wd 5e-4, cosine, 800 epochs, predictor lr decayed.
        "paper": {
            "backbone": "resnet18", "epochs": 800, "batch_size": 512, "lr": 0.03,
            "weight_decay": 5e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 0,
            "method": {"proj_dim": 2048, "proj_layers": 2, "pred_hidden_dim": 512, "fix_pred_lr": False},
        },
        # A CPU recipe for 28-32 px images, chosen by the measured search in docs/recipes.md: a
        # small CNN that downsamples in its first convolution (2.2x faster and better per epoch),
        # batch 128, a high lr with a fixed-lr predictor and little weight decay (as solo-learn's
        # CIFAR SimSiam), and stronger augmentation (SimCLR strength 1, blur).
        "quick": quick(lr=0.5, weight_decay=1e-5,
                       method={"proj_dim": 512, "proj_layers": 2, "pred_hidden_dim": 128, "fix_pred_lr": True}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_dim: int = 2048,  # METHODS.md §3.4 (CIFAR: 2 layers of 2048)
        proj_layers: int = 2,  # 3 on ImageNet
        pred_hidden_dim: int = 512,  # bottleneck of the predictor
        fix_pred_lr: bool = False,  # ImageNet recipe keeps the predictor lr constant
    ) -> None:
        super().__init__(backbone)
        self.fix_pred_lr = fix_pred_lr
        # Linear(no bias)-BN-ReLU hidden layers, last layer followed by BN(affine=False).
        self.projector = mlp(backbone.num_features, proj_dim, proj_dim, num_layers=proj_layers,
                             last_bn=True, last_bn_affine=False)
        # Linear(no bias)-BN-ReLU bottleneck, then a plain Linear back to proj_dim.
        self.predictor = mlp(proj_dim, pred_hidden_dim, proj_dim, num_layers=2)

    def embed(self, x: torch.Tensor) -> Embedding:
        z = self.projector(self.backbone(x))  # BxD
        return Embedding(online=self.predictor(z), target=z.detach())  # stop-gradient on the target

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return negative_cosine(online, target)  # D(p, z); L = 1/2 D(p1, z2) + 1/2 D(p2, z1)

    def param_groups(self) -> list[dict[str, Any]]:
        groups = []
        predictor = set(id(p) for p in self.predictor.parameters())
        for group in super().param_groups():
            own = [p for p in group["params"] if id(p) not in predictor]
            pred = [p for p in group["params"] if id(p) in predictor]
            groups.append({**group, "params": own})
            groups.append({**group, "params": pred, "fixed_lr": self.fix_pred_lr})
        return [g for g in groups if g["params"]]
