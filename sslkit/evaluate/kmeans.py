"""k-means in torch for clustering frozen features (METHODS.md §2.4, the baseline when a method has no cluster head).

Lloyd's algorithm from greedy k-means++ seeds (Arthur & Vassilvitskii 2007; the greedy variant with
``2 + ln k`` candidates per centre is sklearn's), keeping the best of ``n_init`` runs by inertia (sum
of squared distances to the nearest centre). Defaults follow sklearn's classic ``KMeans``:
``n_init=10``, ``iters=300``, ``tol=1e-4`` times the mean per-dimension variance of the data, compared
with the squared shift of the centres. An empty cluster is re-seeded with the point farthest from its
centre. Distances are computed in row chunks (``chunk_size x k``), so 60,000 x 512 features fit
easily; everything runs on the features' device, and the random draws come from a CPU generator
seeded with ``seed``, so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KMeansResult:
    """The best run: ``clusters (N,)`` int64, ``centres (k, D)``, its ``inertia`` and Lloyd ``iterations``."""

    clusters: torch.Tensor
    centres: torch.Tensor
    inertia: float
    iterations: int


def kmeans(features: torch.Tensor, k: int, seed: int, *, iters: int = 300, n_init: int = 10, tol: float = 1e-4,
           chunk_size: int = 16384) -> torch.Tensor:
    """Cluster ``features`` into ``k`` groups; returns the ``(N,)`` int64 cluster of every row.

    See :func:`kmeans_fit` for the arguments.
    """
    return kmeans_fit(features, k, seed, iters=iters, n_init=n_init, tol=tol, chunk_size=chunk_size).clusters


@torch.no_grad()
def kmeans_fit(features: torch.Tensor, k: int, seed: int, *, iters: int = 300, n_init: int = 10,
               tol: float = 1e-4, chunk_size: int = 16384) -> KMeansResult:
    """The best of ``n_init`` k-means++ / Lloyd runs by inertia.

    Args:
        features: ``(N, D)`` float features (any device; computed in float32).
        k: Number of clusters, ``1 <= k <= N``.
        seed: Seed of the initialisations (the global RNG is not touched).
        iters: Most Lloyd iterations per run.
        n_init: Runs from different seeds; the lowest inertia wins.
        tol: Stop when the squared centre shift is below ``tol`` x the mean per-dimension variance.
        chunk_size: Rows per distance block.

    Returns:
        A :class:`KMeansResult`.
    """
    x = features.float()
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"features must be a non-empty (N, D) matrix, got shape {tuple(features.shape)}")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in [1, {len(x)}] (the number of rows), got {k}")
    if iters < 1 or n_init < 1 or chunk_size < 1:
        raise ValueError("iters, n_init and chunk_size must be >= 1")
    generator = torch.Generator().manual_seed(seed)
    threshold = tol * float(x.var(dim=0, unbiased=False).mean()) if len(x) > 1 else 0.0
    x_sq = _squared_norms(x)
    best: KMeansResult | None = None
    for _ in range(n_init):
        centres = _kmeans_plus_plus(x, x_sq, k, generator, chunk_size)
        result = _lloyd(x, x_sq, centres, iters, threshold, chunk_size)
        if best is None or result.inertia < best.inertia:
            best = result
    return best


def nearest_centre(x: torch.Tensor, centres: torch.Tensor, chunk_size: int = 16384,
                   x_sq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centre and the squared distance to it, for every row (in chunks).

    ``x_sq`` (the rows' squared norms) may be passed to avoid recomputing it every iteration.
    """
    x_sq = _squared_norms(x) if x_sq is None else x_sq
    c_sq = _squared_norms(centres)
    index, distance = [], []
    for start in range(0, len(x), chunk_size):
        partial = torch.addmm(c_sq, x[start:start + chunk_size], centres.T, alpha=-2)  # chunk x k, minus |x|^2
        best, arg = partial.min(dim=1)
        index.append(arg)
        distance.append((best + x_sq[start:start + chunk_size]).clamp_min_(0))
    return torch.cat(index), torch.cat(distance)


def _squared_norms(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x, dim=1).square()


def _squared_distances(x: torch.Tensor, x_sq: torch.Tensor, points: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """``(len(points), N)`` squared distances of every row of ``x`` to each of a few points."""
    p_sq = _squared_norms(points).unsqueeze(1)
    blocks = []
    for start in range(0, len(x), chunk_size):
        rows = x[start:start + chunk_size]
        blocks.append((p_sq - 2 * points @ rows.T + x_sq[start:start + chunk_size]).clamp_min_(0))
    return torch.cat(blocks, dim=1)


def _sample(weights: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` indices drawn with probability proportional to ``weights`` (uniform when all are 0)."""
    cumulative = weights.double().cumsum(0)
    total = float(cumulative[-1])
    if total <= 0:
        return torch.randint(len(weights), (count,), generator=generator).to(weights.device)
    u = torch.rand(count, generator=generator, dtype=torch.float64).to(weights.device) * total
    return torch.searchsorted(cumulative, u, right=True).clamp_(max=len(weights) - 1)


def _kmeans_plus_plus(x: torch.Tensor, x_sq: torch.Tensor, k: int, generator: torch.Generator,
                      chunk_size: int) -> torch.Tensor:
    """Greedy k-means++: each new centre is the best of ``2 + ln k`` D^2-sampled candidates."""
    trials = 2 + int(math.log(k))
    first = torch.randint(len(x), (1,), generator=generator).to(x.device)
    centres = [x[first]]
    closest = _squared_distances(x, x_sq, x[first], chunk_size)[0]  # N
    for _ in range(1, k):
        candidates = _sample(closest, trials, generator)
        to_candidates = torch.minimum(_squared_distances(x, x_sq, x[candidates], chunk_size), closest)  # trials x N
        pick = int(to_candidates.sum(dim=1).argmin())
        centres.append(x[candidates[pick]].unsqueeze(0))
        closest = to_candidates[pick]
    return torch.cat(centres)


def _lloyd(x: torch.Tensor, x_sq: torch.Tensor, centres: torch.Tensor, iters: int, threshold: float,
           chunk_size: int) -> KMeansResult:
    k, iterations, shift = len(centres), 0, math.inf
    while iterations < iters and shift > threshold:
        clusters, distance = nearest_centre(x, centres, chunk_size, x_sq)
        counts = torch.bincount(clusters, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, clusters, x)
        updated = sums / counts.clamp_min(1).unsqueeze(1).to(x.dtype)
        empty = (counts == 0).nonzero().flatten()
        if len(empty):  # re-seed each empty cluster with one of the points farthest from their centres
            updated[empty] = x[distance.topk(len(empty)).indices]
        shift = float(((updated - centres) ** 2).sum())
        centres, iterations = updated, iterations + 1
    clusters, distance = nearest_centre(x, centres, chunk_size, x_sq)
    return KMeansResult(clusters, centres, float(distance.double().sum()), iterations)
