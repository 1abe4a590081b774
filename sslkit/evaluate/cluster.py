"""The ``cluster`` protocol: NMI, ACC and ARI of a clustering of a dataset (METHODS.md §2.4, the CC / SACC protocol).

The samples are the **train and test splits concatenated** by default (CIFAR-10 and CIFAR-100: 60k;
STL-10: the 13k labelled images), as in SACC's ``cluster.py``; ``on="train"`` or ``"test"`` scores one
split. Unlabelled samples (label -1, e.g. STL-10's unlabelled images) are left out before clustering.

Clusters come from one of two sources:

* ``"head"``: the method's own cluster head, argmax of its soft assignments (SACC, §7), applied to
  the cached backbone features of the split(s) through ``method.cluster_probabilities_from_features``.
* ``"kmeans"``: :func:`sslkit.evaluate.kmeans.kmeans` with k = the number of classes on the
  L2-normalised backbone features (seeded by the protocol's seed). Not in the paper: the baseline for
  methods without a head.

``"auto"`` picks the head when the method has one. Labels: CIFAR-100 is scored against its 20
superclasses (the official ``coarse_labels`` field, which matches SACC's hard-coded list; tested) and
every other dataset against its classes; ``labels="fine"`` / ``"coarse"`` force one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.errors import SSLKitError
from sslkit.evaluate.cluster_metrics import ari, cluster_accuracy, nmi
from sslkit.evaluate.context import EvalContext
from sslkit.evaluate.kmeans import kmeans

SOURCES = ("auto", "head", "kmeans")
LABELS = ("auto", "fine", "coarse")
SAMPLES = {"train+test": ("train", "test"), "train": ("train",), "test": ("test",)}
HEAD_METHODS = ("sacc",)  # built-in methods with a cluster head (for the error message)


def cluster(ctx: EvalContext, seed: int, *, source: str = "auto", labels: str = "auto",
            on: str = "train+test") -> dict[str, float]:
    """Cluster the samples of ``on`` and score the clusters against their labels (one seed).

    Args:
        ctx: The evaluation context (features of each split are computed once and reused).
        seed: Seed of k-means' initialisation (the head path does not use it).
        source: ``"head"``, ``"kmeans"`` or ``"auto"`` (the head when the method has one).
        labels: ``"fine"``, ``"coarse"`` (CIFAR-100's superclasses) or ``"auto"`` (coarse when the
            dataset has them).
        on: ``"train+test"`` (the CC / SACC protocol), ``"train"`` or ``"test"``.

    Returns:
        ``{"nmi", "acc", "ari"}`` as fractions, and ``"clusters"``: the number of clusters asked for
        (the head's K, or k of k-means).

    Raises:
        SSLKitError: An unknown option, ``source="head"`` without a cluster head, ``labels="coarse"``
            on a dataset without coarse labels, or no labelled sample.
    """
    kind = resolve_source(ctx.backbone.method, source)
    splits = _splits(on)
    which = resolve_labels(ctx, labels, splits)
    features, targets = samples(ctx, splits, which)
    labelled = targets >= 0
    if not bool(labelled.any()):
        raise SSLKitError(f"no labelled sample in {ctx.train.info.name} {on}; clustering is scored against "
                          f"labels, so evaluate a split that has them (--cluster-on test)")
    features, targets = features[labelled], targets[labelled]
    if kind == "head":
        clusters, k = head_clusters(ctx.backbone.method, features, ctx.device)
    else:
        k = num_classes(ctx, which)
        if k > len(features):
            raise SSLKitError(f"{len(features)} labelled samples cannot form {k} clusters; evaluate more samples")
        clusters = kmeans(F.normalize(features.to(ctx.device), dim=1), k, seed).cpu()
    return {"nmi": nmi(targets, clusters), "acc": cluster_accuracy(targets, clusters),
            "ari": ari(targets, clusters), "clusters": float(k)}


def has_cluster_head(method: nn.Module | None) -> bool:
    """Whether a method maps backbone features to cluster probabilities (SACC does)."""
    return callable(getattr(method, "cluster_probabilities_from_features", None))


def resolve_source(method: nn.Module | None, source: str) -> str:
    """``"head"`` or ``"kmeans"`` for ``source`` given the method (None for an exported backbone)."""
    if source not in SOURCES:
        raise SSLKitError(f"unknown cluster source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "auto":
        return "head" if has_cluster_head(method) else "kmeans"
    if source == "head" and not has_cluster_head(method):
        what = "an exported backbone has no heads" if method is None else f"{type(method).__name__} has none"
        raise SSLKitError(f"--cluster-source head needs a method with a cluster head ({', '.join(HEAD_METHODS)}) "
                          f"evaluated from its run directory, but {what}; use --cluster-source kmeans")
    return source


def resolve_labels(ctx: EvalContext, labels: str, splits: tuple[str, ...]) -> str:
    """``"fine"`` or ``"coarse"``: ``"auto"`` is coarse when every split has coarse labels (CIFAR-100)."""
    if labels not in LABELS:
        raise SSLKitError(f"unknown cluster labels {labels!r}; choose one of {', '.join(LABELS)}")
    has_coarse = all(getattr(ctx.split(s), "coarse_labels", None) is not None for s in splits)
    if labels == "coarse" and not has_coarse:
        raise SSLKitError(f"{ctx.train.info.name} has no coarse labels (only cifar100 has its 20 superclasses); "
                          f"use --cluster-labels fine")
    if labels == "auto":
        return "coarse" if has_coarse else "fine"
    return labels


def samples(ctx: EvalContext, splits: tuple[str, ...], which: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Backbone features ``(N, D)`` and ``which`` labels ``(N,)`` of the splits, concatenated in order.

    Coarse labels are the source's ``coarse_labels`` by index: features come in dataset order.
    """
    features, targets = [], []
    for split in splits:
        feats, fine = ctx.features(split)
        if which == "coarse":
            coarse = ctx.split(split).coarse_labels
            if len(coarse) != len(fine):
                raise SSLKitError(f"{ctx.split(split).info.name} {split}: {len(coarse)} coarse labels for "
                                  f"{len(fine)} images; the dataset files are inconsistent")
            fine = torch.where(fine >= 0, coarse.to(fine.dtype), fine)
        features.append(feats)
        targets.append(fine)
    return torch.cat(features), torch.cat(targets)


def num_classes(ctx: EvalContext, which: str) -> int:
    """Number of classes of the labels clustered against (CIFAR-100 coarse: 20)."""
    if which == "fine":
        return ctx.num_classes
    names = getattr(ctx.train, "coarse_classes", ())
    return len(names) if names else int(ctx.train.coarse_labels.max()) + 1


@torch.no_grad()
def head_clusters(method: nn.Module, features: torch.Tensor, device: torch.device,
                  chunk_size: int = 4096) -> tuple[torch.Tensor, int]:
    """Argmax of the method's cluster head on backbone features, in chunks; returns ``(clusters, K)``."""
    method.eval()
    clusters, k = [], 0
    for start in range(0, len(features), chunk_size):
        p = method.cluster_probabilities_from_features(features[start:start + chunk_size].to(device))  # BxK
        clusters.append(p.argmax(dim=1).cpu())
        k = p.shape[1]
    return torch.cat(clusters), int(getattr(method, "num_clusters", k))


def _splits(on: str) -> tuple[str, ...]:
    if on not in SAMPLES:
        raise SSLKitError(f"unknown cluster samples {on!r}; choose one of {', '.join(SAMPLES)}")
    return SAMPLES[on]
