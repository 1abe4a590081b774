"""VICReg: Variance-Invariance-Covariance Regularization (Bardes, Ponce and LeCun, ICLR 2022).

Two views, one encoder ``f`` + expander ``h`` (paper, ImageNet: ``8192-8192-8192``); the loss pulls the
two branches' expander outputs together (invariance), keeps every dimension's standard deviation
above 1 (variance) and decorrelates the dimensions (covariance), each branch regularised on its own.
No negatives, no predictor, no stop-gradient, no EMA and no normalisation of the embeddings.

Written as a third-party plugin against sslkit's public API only: the ``Method`` contract of
``sslkit.methods.base`` (as a ``PairwiseMethod``, so compositions such as DSSL work on it), the MLP
builder ``sslkit.models.heads.mlp`` and the shared CPU recipe ``sslkit.methods.quick.quick``.
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit.methods.base import Embedding, PairwiseMethod, StepOutput, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.heads import mlp
from sslkit_vicreg.loss import vicreg_loss


class VICReg(PairwiseMethod):
    """VICReg: variance, invariance and covariance terms on a wide expander (Bardes et al. 2022)."""

    views = (ViewSpec("standard", count=2, policy="simclr"),)
    presets = {
        # CIFAR recipe of solo-learn (scripts/pretrain/cifar/vicreg.yaml): ResNet-18, expander
        # 2048-2048-2048, coefficients 25 / 25 / 1, batch 256, lr 0.3, wd 1e-4, 1000 epochs, warm-up +
        # cosine; augmentations RRC(0.2, 1), CJ (0.4, 0.4, 0.2, 0.1) p0.8, gray 0.2, no blur,
        # solarize 0.1, flip, the same for both views (exactly the `simclr` policy below).
        # Deviation, marked: solo-learn uses LARS (eta 0.02, clip_lr, no LARS/wd on biases and norms)
        # and sslkit has no LARS, so this is SGD with momentum 0.9 at LARS's lr: expect re-tuning.
        "paper": {
            "backbone": "resnet18", "epochs": 1000, "batch_size": 256, "lr": 0.3,
            "weight_decay": 1e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "aug": {"standard": "simclr:scale_min=0.2,saturation=0.2,solarize_p=0.1"},
            "method": {"proj_hidden_dim": 2048, "proj_dim": 2048, "sim_coeff": 25.0, "std_coeff": 25.0,
                       "cov_coeff": 1.0},
        },
        # The shared CPU recipe (sslkit/methods/quick.py) with a 512-wide expander and VICReg's own lr.
        # Checked on digits only (10 epochs, seed 0, kNN top-1): lr 0.1 gave 0.754, 0.3 gave 0.781 and
        # 1.0 diverged (NaN at step 11). A small check, not a search; wd 1e-5 as the other quick presets.
        "quick": quick(lr=0.3, weight_decay=1e-5, method={"proj_hidden_dim": 512, "proj_dim": 512}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_hidden_dim: int = 8192,  # paper, official --mlp 8192-8192-8192 (ImageNet; solo-learn CIFAR: 2048)
        proj_dim: int = 8192,  # ImageNet (solo-learn CIFAR: 2048)
        sim_coeff: float = 25.0,  # paper lambda (official --sim-coeff)
        std_coeff: float = 25.0,  # paper mu (official --std-coeff)
        cov_coeff: float = 1.0,  # paper nu (official --cov-coeff)
        eps: float = 1e-4,  # paper epsilon in the regularised standard deviation
    ) -> None:
        super().__init__(backbone)
        if min(proj_hidden_dim, proj_dim) < 1:
            raise ValueError(f"proj_hidden_dim and proj_dim must be >= 1, got {proj_hidden_dim} and {proj_dim}")
        if min(sim_coeff, std_coeff, cov_coeff) < 0:
            raise ValueError(f"sim_coeff, std_coeff and cov_coeff must be >= 0 (paper: 25, 25, 1), got "
                             f"{sim_coeff}, {std_coeff}, {cov_coeff}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0 (paper: 1e-4), got {eps}")
        self.sim_coeff, self.std_coeff, self.cov_coeff, self.eps = sim_coeff, std_coeff, cov_coeff, eps
        # Official Projector: (Linear -> BN -> ReLU) x 2 -> Linear(bias=False). The hidden Linears'
        # biases are dropped too: the BN after them cancels a bias.
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim, num_layers=3, bias=False)

    def embed(self, x: torch.Tensor) -> Embedding:
        z = self.projector(self.backbone(x))  # BxD
        return Embedding(online=z, target=z)  # no stop-gradient: both branches are trained

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """VICReg loss of one pair (symmetric in its inputs), for compositions such as DSSL.

        A composition that detaches ``target`` trains the online branch's invariance, variance and
        covariance only.
        """
        return vicreg_loss(online, target, self.sim_coeff, self.std_coeff, self.cov_coeff, self.eps).loss

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        """The VICReg loss of the two standard views, once (it is symmetric), with its three terms logged."""
        x1, x2 = views["standard"]
        z1, z2 = self.embed(x1).online, self.embed(x2).online  # BxD each
        terms = vicreg_loss(z1, z2, self.sim_coeff, self.std_coeff, self.cov_coeff, self.eps)
        logs = {"invariance": terms.invariance.detach(), "variance": terms.variance.detach(),
                "covariance": terms.covariance.detach()}
        return StepOutput(loss=terms.loss, logs=logs, embeddings=z1.detach())
