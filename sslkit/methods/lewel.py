"""LEWEL on BYOL: Learning Where to Learn in cross-view self-supervised learning (Huang et al., CVPR 2022).

The projector is applied per pixel: one MLP1D ``g`` maps the pooled feature and every pixel feature
of the unpooled backbone map (in one call, so they share BN statistics). The pooled position gives
BYOL's global embedding ``z_g``; the pixel positions give logits that become ``D`` spatial
alignment maps, which re-pool the backbone features into ``K = D / H`` aligned embeddings (``H``
heads). A second projector ``g_a`` and predictor ``q_a`` train those with BYOL's objective, map
``k`` of one view against map ``k`` of the other; because the maps come from the weight-shared
projector they attend to corresponding content in both crops (METHODS.md §8, LEWEL_B in the
released code)::

    L_12 = alpha mean_b l(q(z_g^1), z'_g^2) + (1 - alpha) mean_{b,k} l(q_a(O^1)_k, O'^2_k),
    L = L_12 + L_21,  l = 2 - 2 cos,

where ``'`` marks the EMA target (backbone, ``g`` and ``g_a``), updated after each step with the
cosine-to-1 momentum. ``eman=True`` is LEWELB_EMAN (BN buffers averaged too, target in eval mode).
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit.losses import normalized_mse
from sslkit.methods.base import Method, StepOutput, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.aligned_pooling import aligned_pooling
from sslkit.models.ema import EMA, cosine_tau
from sslkit.models.mlp1d import MLP1D


class LEWELBYOL(Method):
    """LEWEL_B: BYOL on the global embedding plus on spatially aligned embeddings (Huang et al. 2022)."""

    # METHODS.md §8.3: BYOL's asymmetric views (blur 1.0 / 0.1, solarize 0 / 0.2) with RRC scale (0.2, 1).
    views = (ViewSpec("standard", count=2, policy=("byol-1", "byol-2"),
                      options=({"scale_min": 0.2}, {"scale_min": 0.2})),)
    presets = {
        # ADAPTATION: LEWEL has no CIFAR recipe (METHODS.md §8). These are the LEWEL_B EMAN 100-epoch
        # hyper-parameters of §8.4 (m_0 0.98, wd 1.5e-6, 10 warm-up epochs, H 4, proj 256 / hidden
        # 4096, alpha 0.5, scale 1, l2-norm) on a CIFAR-stem ResNet-18 at B=256. The released code
        # uses LARS lr 3.6 at B=1024; sslkit has no LARS, so this is SGD with ASSUMED lr 1.0 per 256
        # (the value of sslkit's BYOL paper preset, so LEWEL vs BYOL changes one thing); re-tune.
        "paper": {
            "backbone": "resnet18", "epochs": 100, "batch_size": 256, "lr": 1.0,
            "weight_decay": 1.5e-6, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "method": {"proj_dim": 256, "hidden_dim": 4096, "num_heads": 4, "alpha": 0.5,
                       "tau_base": 0.98, "eman": True},
        },
        # The shared CPU recipe with BYOL's quick lr and head widths. At 28 px the stride-2 small CNN
        # ends on a 2x2 map (N = 4 positions per map); at 8 px (digits) on 1x1 (N = 1: uniform maps).
        # H = 8 (the released class default) gives K = 16 aligned embeddings: with K = 32 (H = 4) the
        # aligned heads dominate a step on this CNN (H = 4 took 1.9x as long per B=128 step as H = 8,
        # measured side by side on 1 thread; H = 8 is about 2x a BYOL quick step). The parameter-only
        # EMA (eman=False): on Fashion-MNIST, 533 steps (docs/results.md), kNN 77.82 % against 71.79 %
        # with EMAN, whose eval-mode target starts from BN statistics that lag the online network.
        "quick": quick(lr=0.5, weight_decay=1e-5,
                       method={"proj_dim": 128, "hidden_dim": 512, "num_heads": 8, "alpha": 0.5,
                               "tau_base": 0.98, "eman": False}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_dim: int = 256,  # METHODS.md §8.1/§8.4: MLP1D 2048 -> 4096 -> 256
        hidden_dim: int = 4096,  # hidden width of g, g_a, q and q_a
        num_heads: int = 4,  # §8.4 scripts (the class default of the released code is 8)
        scale: float = 1.0,  # §8.1 step 4: softmax temperature of the alignment maps
        l2norm: bool = True,  # §8.1 step 4: L2-normalise the per-pixel logits first
        alpha: float = 0.5,  # §8.1 step 9: `loss_weight`, weight of the global term
        tau_base: float = 0.98,  # §8.4 LEWEL_B EMAN 100/200 ep (0.996 for the 400-ep SyncBN run)
        eman: bool = True,  # LEWELB_EMAN: EMA of params + BN buffers, target in eval mode
    ) -> None:
        super().__init__(backbone)
        if not hasattr(backbone, "forward_features"):
            raise ValueError(f"LEWEL needs a backbone with forward_features(x) -> (B, C, h, w); "
                             f"{type(backbone).__name__} has none")
        channels = backbone.num_features
        if num_heads < 1 or channels % num_heads or proj_dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide the backbone's {channels} channels and "
                             f"proj_dim={proj_dim}; choose a common divisor (LEWEL uses 4)")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha (the global loss weight) must be in [0, 1], got {alpha}")
        if not 0.0 <= tau_base <= 1.0:
            raise ValueError(f"tau_base must be in [0, 1], got {tau_base}")
        self.num_heads, self.scale, self.l2norm = num_heads, scale, l2norm
        self.alpha, self.tau_base, self.eman = alpha, tau_base, eman
        self.projector = MLP1D(channels, hidden_dim, proj_dim)  # g: shared by the pooled and pixel positions
        self.aligned_projector = MLP1D(channels, hidden_dim, proj_dim)  # g_a
        self.predictor = MLP1D(proj_dim, hidden_dim, proj_dim)  # q
        self.aligned_predictor = MLP1D(proj_dim, hidden_dim, proj_dim)  # q_a: BN over B x K
        self.target = EMA(self._online_modules(), buffers=eman)  # frozen (f', g', g_a'); not exported
        self._step_progress: float | None = None  # progress of the step being taken (pre-increment)

    def _online_modules(self) -> list[nn.Module]:
        return [self.backbone, self.projector, self.aligned_projector]

    def encode(self, x: torch.Tensor, target: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Global embedding ``z_g`` ``(B, D)`` and aligned embeddings ``O`` ``(B, D, K)`` of one view batch.

        Args:
            x: ``(B, C_in, H, W)`` images.
            target: Use the EMA network (call under ``torch.no_grad()``) instead of the online one.
        """
        backbone, projector, aligned_projector = self.target.copies if target else self._online_modules()
        feats = backbone.forward_features(x).flatten(2)  # BxCxN
        pooled = feats.mean(dim=2, keepdim=True)  # BxCx1
        z = projector(torch.cat([pooled, feats], dim=2))  # BxDx(1+N): one BN batch for both (§8.1 step 3)
        z_g, logits = z[:, :, 0], z[:, :, 1:]  # BxD, BxDxN
        _, aligned = aligned_pooling(feats, logits, self.num_heads, self.scale, self.l2norm)  # BxCxK
        return z_g, aligned_projector(aligned)  # BxD, BxDxK

    def predict(self, z_g: torch.Tensor, aligned: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Online predictions: ``q(z_g)`` ``(B, D)`` and ``q_a(O)`` ``(B, D, K)``."""
        return self.predictor(z_g.unsqueeze(2)).squeeze(2), self.aligned_predictor(aligned)

    @staticmethod
    def pair_losses(
        online: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Global and aligned terms of one direction: ``mean_b l(p_g, z'_g)``, ``mean_{b,k} l(p_a_k, O'_k)``."""
        (p_g, p_a), (z_g, o) = online, target
        # BxDxK -> BxKxD: the cosine is over D, the mean over (b, k); map k meets map k of the other view
        return normalized_mse(p_g, z_g), normalized_mse(p_a.transpose(1, 2), o.transpose(1, 2))

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        x1, x2 = views["standard"]
        self._step_progress = progress  # the engine passes step / total: the pre-increment index
        p1, p2 = self.predict(*self.encode(x1)), self.predict(*self.encode(x2))
        with torch.no_grad():
            t1, t2 = self.encode(x1, target=True), self.encode(x2, target=True)
        g12, a12 = self.pair_losses(p1, t2)
        g21, a21 = self.pair_losses(p2, t1)
        loss_global, loss_aligned = g12 + g21, a12 + a21  # L = L_12 + L_21 (§8.1 step 10)
        loss = self.alpha * loss_global + (1.0 - self.alpha) * loss_aligned
        logs = {"loss_global": loss_global.detach(), "loss_aligned": loss_aligned.detach(),
                "tau": cosine_tau(self.tau_base, progress)}
        return StepOutput(loss=loss, logs=logs, embeddings=t1[0])

    def after_step(self, progress: float) -> None:
        """EMA update after the optimizer step (§8.1 step 11).

        The released code evaluates ``m_t`` at the iteration index of the step just taken, before it
        is incremented: ``t / T``, the ``progress`` this step's ``forward`` received. The engine calls
        ``after_step`` with ``(t + 1) / T``, so the value recorded in ``forward`` is used (the argument
        only when ``forward`` has not run, e.g. a direct call).
        """
        t = progress if self._step_progress is None else self._step_progress
        self.target.update(self._online_modules(), cosine_tau(self.tau_base, t))
        self._step_progress = None
