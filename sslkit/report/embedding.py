"""Frozen-backbone features of a labelled split, drawn in 2D by PCA or t-SNE, for ``sslkit report --features``.

The same stratified subset of the test split (at most ``max_points`` images, chosen with the seed)
is embedded for every run, so the plots of different runs show the same images. Features are the
pooled backbone output that every protocol of METHODS.md §2 uses (:class:`EvalContext`), taken
before any normalisation.

- PCA: scikit-learn's exact SVD on the centred features; the axes are the first two principal
  components with their share of the variance.
- t-SNE: scikit-learn's Barnes-Hut t-SNE, PCA initialisation, ``random_state=seed``, perplexity
  ``min(30, (n - 1) / 3)`` so small subsets stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslkit.data.base import Source
from sslkit.errors import SSLKitError

EMBEDDINGS = ("pca", "tsne")


@dataclass
class Embedding:
    """2D points of a run's features with their labels and what the axes mean."""

    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,) int64, -1 = unlabelled
    axes: tuple[str, str]


def stratified_indices(labels: torch.Tensor, max_points: int, seed: int) -> torch.Tensor:
    """At most ``max_points`` indices with each label's share of ``labels`` kept (largest remainders), sorted.

    Deterministic given ``seed``; every index is kept when there are at most ``max_points``.
    """
    if max_points <= 0:
        raise SSLKitError(f"--max-points must be positive (got {max_points})")
    n = len(labels)
    if n <= max_points:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * max_points / n
    quota = exact.floor().long()
    remainder_order = torch.argsort(exact - quota, descending=True, stable=True)
    quota[remainder_order[: max_points - int(quota.sum())]] += 1
    chosen = []
    for label, take in zip(classes.tolist(), quota.tolist(), strict=True):
        members = torch.nonzero(labels == label).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:take]])
    return torch.cat(chosen).sort().values


def subset(source: Source, indices: torch.Tensor) -> Source:
    """The images of ``source`` at ``indices`` (in memory or lazy) as a new :class:`Source`."""
    labels = source.labels[indices]
    if source.images is not None:
        return Source(info=source.info, labels=labels, images=source.images[indices])
    return Source(info=source.info, labels=labels, loader=_IndexedLoader(source, indices.tolist()))


class _IndexedLoader:
    """``i -> source.get(indices[i])[0]``; a class (not a lambda) so DataLoader workers can pickle it."""

    def __init__(self, source: Source, indices: list[int]) -> None:
        self.source, self.indices = source, indices

    def __call__(self, index: int) -> torch.Tensor:
        return self.source.get(self.indices[index])[0]


def run_features(run: Path, source: Source) -> tuple[torch.Tensor, torch.Tensor]:
    """Test-split features ``(N, D)`` and labels of ``source`` under the newest checkpoint of ``run``."""
    from sslkit.evaluate.context import EvalContext, open_backbone

    backbone = open_backbone(run)
    if backbone.channels != source.info.channels:
        raise SSLKitError(f"--features {source.info.name}: run {run} takes {backbone.channels}-channel images but "
                          f"{source.info.name} has {source.info.channels}; pick a dataset with the run's channels")
    # Only the test features are computed; the context's train split is never read here.
    return EvalContext(backbone, train=source, test=source).features("test")


def embed(features: torch.Tensor, labels: torch.Tensor, method: str = "pca", seed: int = 0) -> Embedding:
    """Project ``features`` to 2D with ``method`` ("pca" or "tsne")."""
    if method not in EMBEDDINGS:
        raise SSLKitError(f"unknown embedding {method!r}; use one of: {', '.join(EMBEDDINGS)}")
    x = features.double().numpy()
    if len(x) < 3:
        raise SSLKitError(f"need at least 3 images to draw an embedding (got {len(x)}); raise --max-points")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full")
        points = pca.fit_transform(x)
        share = pca.explained_variance_ratio_
        axes = (f"PC 1 ({100 * share[0]:.1f}% of variance)", f"PC 2 ({100 * share[1]:.1f}% of variance)")
    else:
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(x) - 1) / 3)
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
        axes = ("t-SNE 1", "t-SNE 2")
    return Embedding(points=np.asarray(points, dtype=np.float64), labels=labels.numpy(), axes=axes)
