"""SACC: Strongly Augmented Contrastive Clustering (Deng et al., Pattern Recognition 2023; arXiv 2206.00380).

Contrastive Clustering (CC) with three views of each image: two weak views and one strong
(RandAugment) view, all drawn independently from the image. One backbone feeds two heads: an
instance projector trained with NT-Xent over view pairs, and a cluster projector whose softmax
assignments are trained with the cluster-level contrastive loss over the columns of the ``B x K``
assignment matrix plus a marginal-entropy regulariser (METHODS.md §7). The cluster head's argmax is
the clustering.

Deviations from the released code (dengxiaozhi/SACC), on purpose:

* Normalisation: the released code ImageNet-normalises the strong view only and feeds the weak
  views and the test images as raw [0, 1] pixels (METHODS.md §7.2 FLAG). sslkit's engine normalises
  every view and the evaluation images with the dataset's statistics, which is the fix.
* Training data: CC / SACC train on train+test concatenated (the CC protocol); sslkit trains on the
  split it is given (``--set split=...``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.losses import nt_xent
from sslkit.losses.cluster_contrastive import cluster_contrastive_terms
from sslkit.methods.base import Method, StepOutput, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.heads import mlp

VIEW_NAMES = ("w1", "w2", "s")  # weak view 1, weak view 2, strong view


def parse_pairs(spec: str | Sequence[str], what: str) -> tuple[tuple[str, str], ...]:
    """``"w1-w2,w2-s"`` -> ``(("w1", "w2"), ("w2", "s"))``; an empty spec gives no pairs.

    Both losses are symmetric in their two views, so ``"s-w2"`` repeats ``"w2-s"`` and is rejected.

    Raises:
        ValueError: A pair is malformed, names a view other than w1, w2, s, pairs a view with itself
            or is repeated.
    """
    items = [p.strip() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
    pairs: list[tuple[str, str]] = []
    for item in items:
        a, sep, b = item.partition("-")
        a, b = a.strip(), b.strip()
        if not sep or a not in VIEW_NAMES or b not in VIEW_NAMES:
            raise ValueError(f"{what}: bad pair {item!r}; a pair is two of the views w1, w2, s joined by '-' "
                             f"(e.g. {what}=w1-w2,w2-s)")
        if a == b:
            raise ValueError(f"{what}: pair {item!r} pairs a view with itself; use two of w1, w2, s")
        if {a, b} in [set(p) for p in pairs]:
            raise ValueError(f"{what}: pair {item!r} is given twice (the loss is symmetric in its two views)")
        pairs.append((a, b))
    return tuple(pairs)


class SACC(Method):
    """SACC: instance NT-Xent + cluster contrastive loss over two weak and one strong view (METHODS.md §7)."""

    views = (
        # CC's weak view at s = 0.5 (CIFAR, Tiny): RRC scale (0.08, 1) -> flip -> CJ(0.4, 0.4, 0.4, 0.1)
        # p0.8 -> gray 0.2, no blur (the simclr policy's jitter=0.4 is that colour strength). STL-10 and
        # ImageNet-10/dogs use s = 1: --aug weak=simclr:scale_min=0.08,jitter=0.8 (plus blur_p=0.5 for
        # ImageNet-10/dogs). METHODS.md §7.2.
        ViewSpec("weak", count=2, policy="simclr", options={"scale_min": 0.08, "jitter": 0.4}),
        ViewSpec("strong", count=1, policy="sacc-strong"),  # independent of the weak views (§7.1 step 1)
    )
    presets = {
        # config/config.yaml of the released code (METHODS.md §7.3): ResNet-34 with the ImageNet stem on
        # 224-px inputs for every dataset, Adam lr 3e-4 (not scaled with the batch), wd 0, constant lr
        # (no warm-up, cosine floor = 1), batch 200, 1000 epochs, seed 42; K = 10, tau_I 0.5, tau_C 1.0,
        # sigma 1. CIFAR-100 (20 superclasses): --set num_clusters=20 cluster_weight=0.5. Deviations:
        # every view is normalised (see the module docstring) and the run trains on the given split,
        # not train+test.
        "paper": {
            "backbone": "resnet34", "image_size": 224, "epochs": 1000, "batch_size": 200,
            "optimizer": "adam", "lr": 3e-4, "lr_scaling": "none", "weight_decay": 0.0,
            "warmup_epochs": 0, "min_lr_ratio": 1.0, "seed": 42,
            "method": {"num_clusters": 10, "proj_dim": 128, "instance_temperature": 0.5,
                       "cluster_temperature": 1.0, "cluster_weight": 1.0,
                       "instance_pairs": "w1-w2,w2-s", "cluster_pairs": "w1-w2,w1-s,w2-s"},
        },
        # The shared CPU recipe with the paper's optimiser: Adam, lr not scaled with the batch, wd 0, the
        # recipe's warm-up + cosine. The views keep their SACC policies (``aug`` drops the recipe's
        # ``standard`` role, which SACC does not have). lr checked on digits (20 epochs, clusters of all
        # 1,797 images; NMI / ACC for seeds 0-2): 3e-4 0.49/0.53, 0.45/0.46 (seeds 0-1); 1e-3 0.57/0.58,
        # 0.60/0.67, 0.61/0.65; 3e-3 0.61/0.67, 0.66/0.72, 0.68/0.73; 1e-2 0.63/0.70, 0.53/0.53 (seeds
        # 0-1). kNN top-1 on the test split was 0.76-0.86 throughout. Not a full search.
        "quick": quick(optimizer="adam", lr=3e-3, lr_scaling="none", weight_decay=0.0, aug={},
                       method={"num_clusters": 10, "proj_dim": 128}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        num_clusters: int = 10,  # K: CIFAR-10 / STL-10 / ImageNet-10 10, CIFAR-100 20, dogs 15 (§7.3)
        proj_dim: int = 128,  # feature_dim of config.yaml
        proj_hidden_dim: int | None = None,  # None = the backbone's width (Linear(d, d) in both heads)
        instance_temperature: float = 0.5,  # tau_I, config.yaml
        cluster_temperature: float = 1.0,  # tau_C, config.yaml
        cluster_weight: float = 1.0,  # sigma: 1, or 0.5 for CIFAR-100 (config.yaml comment)
        instance_pairs: str | Sequence[str] = "w1-w2,w2-s",  # released train.py (§7.1 step 5 FLAG)
        cluster_pairs: str | Sequence[str] = "w1-w2,w1-s,w2-s",  # released train.py
    ) -> None:
        super().__init__(backbone)
        if num_clusters < 2:
            raise ValueError(f"num_clusters must be >= 2, got {num_clusters} (CIFAR-10: 10, CIFAR-100: 20)")
        for name, value in (("instance_temperature", instance_temperature),
                            ("cluster_temperature", cluster_temperature)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value} (SACC: tau_I 0.5, tau_C 1.0)")
        if cluster_weight < 0:
            raise ValueError(f"cluster_weight must be >= 0, got {cluster_weight} (SACC: 1, CIFAR-100: 0.5)")
        self.instance_pairs = parse_pairs(instance_pairs, "instance_pairs")
        self.cluster_pairs = parse_pairs(cluster_pairs, "cluster_pairs")
        if not self.instance_pairs and not self.cluster_pairs:
            raise ValueError("instance_pairs and cluster_pairs are both empty: give at least one pair of "
                             "the views w1, w2, s (SACC: instance_pairs=w1-w2,w2-s)")
        self.num_clusters = num_clusters
        self.instance_temperature, self.cluster_temperature = instance_temperature, cluster_temperature
        self.cluster_weight = cluster_weight
        width = backbone.num_features
        hidden = width if proj_hidden_dim is None else proj_hidden_dim
        # Linear(d, d) -> ReLU -> Linear(d, 128), no BN (modules/network.py); z is L2-normalised.
        self.instance_projector = mlp(width, hidden, proj_dim, hidden_bn=False)
        # Linear(d, d) -> ReLU -> Linear(d, K); softmax is applied in cluster_probabilities.
        self.cluster_projector = mlp(width, hidden, num_clusters, hidden_bn=False)

    def cluster_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Soft cluster assignments ``softmax(MLP_C(f(x)))`` of a batch (METHODS.md §7.1 step 2).

        Call under ``torch.no_grad()`` with the model in eval mode for evaluation (§2.4).

        Args:
            images: ``(B, C, H, W)`` normalised images.

        Returns:
            ``(B, K)`` float32 probabilities; each row sums to 1.
        """
        return self.cluster_probabilities_from_features(self.backbone(images))

    def cluster_assignments(self, images: torch.Tensor) -> torch.Tensor:
        """Hard clusters, the argmax of :meth:`cluster_probabilities` (the CC / SACC protocol, §2.4).

        Args:
            images: ``(B, C, H, W)`` normalised images.

        Returns:
            ``(B,)`` int64 cluster indices in ``[0, K)``.
        """
        return self.cluster_probabilities(images).argmax(dim=1)

    def cluster_probabilities_from_features(self, h: torch.Tensor) -> torch.Tensor:
        """The cluster head on pooled backbone features: ``softmax(MLP_C(h))`` (METHODS.md §7.1 step 2).

        ``sslkit eval cluster`` applies it to the cached features of a split instead of re-encoding
        the images (§2.4).

        Args:
            h: ``(B, D)`` pooled backbone features.

        Returns:
            ``(B, K)`` float32 probabilities; each row sums to 1.
        """
        return self.cluster_projector(h).float().softmax(dim=1)  # BxK

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        """``sum L_ins(pair) + sigma * sum L_clu(pair)`` over the configured pairs (METHODS.md §7.1 step 5).

        Each view is its own forward pass (its own BN batch), as in the released code. A view that no
        pair uses is not encoded.
        """
        (w1, w2), (s,) = views["weak"], views["strong"]
        images = {"w1": w1, "w2": w2, "s": s}
        used = {v for pair in self.instance_pairs + self.cluster_pairs for v in pair}
        h = {v: self.backbone(images[v]) for v in VIEW_NAMES if v in used}  # BxD each
        z = {v: F.normalize(self.instance_projector(h[v]), dim=1) for v in h}  # Bx128, unit norm
        c = {v: self.cluster_probabilities_from_features(h[v]) for v in h}  # BxK
        zero = next(iter(h.values())).new_zeros(())
        instance = sum((nt_xent(z[a], z[b], self.instance_temperature) for a, b in self.instance_pairs), zero)
        contrast, entropy = zero, zero
        for a, b in self.cluster_pairs:
            terms = cluster_contrastive_terms(c[a], c[b], self.cluster_temperature)
            contrast, entropy = contrast + terms.contrast, entropy + terms.entropy
        cluster = contrast + entropy
        loss = instance + self.cluster_weight * cluster
        logs = {"loss_instance": instance.detach(), "loss_cluster": cluster.detach(),
                "cluster_contrast": contrast.detach(), "cluster_entropy": entropy.detach()}
        first = next(iter(z))
        return StepOutput(loss=loss, logs=logs, embeddings=z[first].detach())
