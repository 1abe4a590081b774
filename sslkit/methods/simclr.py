"""SimCLR: A Simple Framework for Contrastive Learning of Visual Representations (Chen et al., ICML 2020).

Two views, one encoder ``f`` + projector ``g``; every view must pick out its partner among the other
2B - 1 embeddings of the batch with the NT-Xent loss (METHODS.md §3.1). No predictor, no
stop-gradient, no EMA: the negatives prevent collapse, so gradients flow through both views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.losses import nt_xent
from sslkit.methods.base import Embedding, PairwiseMethod, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.heads import mlp


class SimCLR(PairwiseMethod):
    """SimCLR: shared encoder + MLP projector trained with NT-Xent over 2B views (Chen et al. 2020)."""

    views = (ViewSpec("standard", count=2, policy="simclr"),)
    presets = {
        # CIFAR-10 recipe of the official README (METHODS.md §3.1): ResNet-18, B=512, 1000 epochs,
        # T=0.5, wd 1e-4, colour strength 0.5, crop scale (0.08, 1), no blur; ~91% linear probe.
        # NOT the paper's optimiser: the README uses LARS lr 1.0 per 256 and sslkit has no LARS yet, so
        # this is SGD with solo-learn's CIFAR LARS lr (0.4 per 256); expect it to need re-tuning.
        # Projector: the official code's 3-layer BN head with out dim 128 (the code ties the hidden
        # width to the backbone's feature dim; 2048 here, as METHODS.md's ResNet-50 numbers).
        "paper": {
            "backbone": "resnet18", "epochs": 1000, "batch_size": 512, "lr": 0.4,
            "weight_decay": 1e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "aug": {"standard": "simclr:scale_min=0.08,jitter=0.5"},
            "method": {"temperature": 0.5, "proj_hidden_dim": 2048, "proj_dim": 128, "proj_layers": 3,
                       "proj_bn": True},
        },
        # A CPU recipe for 28-32 px images in the shape of SimSiam's quick preset: a small CNN, batch
        # 128, SGD with a high lr and little weight decay, T=0.2 (solo-learn CIFAR), SimCLR strength-1
        # colour jitter and blur. Checked on digits only (10 epochs, kNN top-1 0.79 / 0.86 / 0.81 for
        # seeds 0-2; lr 0.2 gave 0.84 / 0.85), not a full search.
        "quick": quick(lr=0.5, weight_decay=1e-5,
                       method={"temperature": 0.2, "proj_hidden_dim": 512, "proj_dim": 128, "proj_layers": 2,
                               "proj_bn": True}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        temperature: float = 0.5,  # official CIFAR-10 README (ImageNet: 0.1; solo-learn CIFAR: 0.2)
        proj_hidden_dim: int = 2048,  # official code, METHODS.md §3.1 (solo-learn CIFAR: 2048 too)
        proj_dim: int = 128,  # official code (solo-learn CIFAR: 256)
        proj_layers: int = 3,  # official code num_proj_layers=3; paper v1 and solo-learn CIFAR: 2
        proj_bn: bool = True,  # official code: BN after the hidden Linears; solo-learn CIFAR: none
    ) -> None:
        super().__init__(backbone)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature} (the paper uses 0.1 to 0.5)")
        self.temperature = temperature
        # (Linear -> [BN] -> ReLU) x (proj_layers - 1) -> Linear; solo-learn CIFAR is
        # mlp(512, 2048, 256, num_layers=2, hidden_bn=False).
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim, num_layers=proj_layers,
                             hidden_bn=proj_bn)

    def embed(self, x: torch.Tensor) -> Embedding:
        z = self.projector(self.backbone(x))  # BxD
        return Embedding(online=z, target=z)  # no stop-gradient: both sides of a pair are trained

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One-directional InfoNCE for compositions (e.g. DSSL's heavy -> standard pairs).

        Row ``i`` of ``online`` must pick out row ``i`` of ``target`` among all B rows of ``target``
        (its negatives are the other B - 1 target rows, not the other online rows as in NT-Xent):
        ``-log[exp(n(o_i) . n(t_i) / T) / sum_k exp(n(o_i) . n(t_k) / T)]``, averaged over ``i``.
        Gradients reach ``target`` unless the caller detaches it (DSSL detaches the standard side).
        :meth:`standard_loss` does not use it: the base loss is the symmetric NT-Xent.
        """
        with torch.autocast(online.device.type, enabled=False):
            logits = F.normalize(online.float(), dim=1) @ F.normalize(target.float(), dim=1).T  # BxB
            labels = torch.arange(online.shape[0], device=online.device)
            return F.cross_entropy(logits / self.temperature, labels)

    def standard_loss(self, e1: Embedding, e2: Embedding) -> torch.Tensor:
        """NT-Xent over the 2B standard views (METHODS.md §3.1): not a sum of per-pair losses.

        Each view is its own BN batch (as solo-learn; the official TF code normalises the 2B views
        together).
        """
        return nt_xent(e1.online, e2.online, self.temperature)
