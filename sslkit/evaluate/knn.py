"""Weighted k-nearest-neighbour classification on frozen features (METHODS.md §0.6).

Memory bank = L2-normalised features of the training split under the test transform (no
augmentation). For a query, take the top-k cosine similarities ``s_i`` and vote
``score_c = sum_i exp(s_i / t) * 1[y_i = c]``; defaults k = 200, t = 0.1 (InstDisc, MoCo demo,
DSSL and RSA monitors). Queries are processed in chunks so large banks fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from sslkit import distributed
from sslkit.data.loader import BatchLoader


@torch.no_grad()
def extract_features(
    features: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    transform: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``features(transform(images))`` over ``batches``; returns L2-normalised features, labels."""
    feats, labels = [], []
    for images, targets in batches:
        out = features(transform(images.to(device, non_blocking=True)))
        feats.append(F.normalize(out.float(), dim=1).cpu())
        labels.append(targets.cpu())
    return torch.cat(feats), torch.cat(labels)


SIMILARITY_BLOCK = 2**28  # entries of one queries x bank similarity block (1 GiB of float32)


@torch.no_grad()
def split_features(
    features: Callable[[torch.Tensor], torch.Tensor],
    loader: BatchLoader,
    transform: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device | str = "cpu",
    track: Callable[[Iterable, int], Iterable] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 features (not normalised) and labels of a whole split, in dataset order, on CPU.

    ``loader`` is this process's shard (``rank``/``world_size``, no shuffling); in a process group the
    shards are gathered so every process gets the whole split. ``track(iterable, total)`` may wrap the
    batches in a progress bar.
    """
    batches = zip(loader.batch_indices(0), loader.epoch(0), strict=True)
    if track is not None:
        batches = track(batches, len(loader))
    feats, labels, indices = [], [], []
    for index, (images, targets) in batches:
        feats.append(features(transform(images.to(device, non_blocking=True))).float().cpu())
        labels.append(targets.cpu())
        indices.append(index)
    if not feats:  # a process whose shard is empty (a tiny split over many processes)
        probe = features(transform(loader.source.get(0)[0][None].to(device))).float().cpu()
        feats, labels, indices = [probe[:0]], [torch.empty(0, dtype=torch.int64)], [torch.empty(0, dtype=torch.int64)]
    return distributed.gather_rows(torch.cat(feats), torch.cat(labels), torch.cat(indices), len(loader.source))


@torch.no_grad()
def knn_predict(
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    queries: torch.Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Predicted class of every query by temperature-weighted top-k voting.

    Args:
        bank: ``(N, D)`` L2-normalised training features.
        bank_labels: ``(N,)`` int64 labels in ``[0, num_classes)``.
        queries: ``(M, D)`` L2-normalised query features.
        num_classes: Number of classes.
        k: Neighbours (clipped to N).
        temperature: Softmax-style temperature of the vote weights.
        chunk_size: Queries per similarity block (memory is ``chunk_size x N`` floats); by default as
            many as keep a block under :data:`SIMILARITY_BLOCK` entries (1 GiB of float32): 4,473
            queries at a time against a 60k bank, 209 against ImageNet's 1.28M.

    Returns:
        ``(M,)`` int64 predictions.
    """
    k = min(k, len(bank))
    chunk_size = chunk_size or max(1, SIMILARITY_BLOCK // max(len(bank), 1))
    predictions = []
    for start in range(0, len(queries), chunk_size):
        sim = queries[start:start + chunk_size] @ bank.T  # MxN cosine similarities
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(len(sim), num_classes, dtype=weights.dtype, device=weights.device)
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor,
                 query_labels: torch.Tensor, num_classes: int, k: int = 200, temperature: float = 0.1) -> float:
    """Top-1 accuracy (in [0, 1]) of :func:`knn_predict` on labelled queries."""
    labelled = bank_labels >= 0
    predictions = knn_predict(bank[labelled], bank_labels[labelled], queries, num_classes, k, temperature)
    return (predictions == query_labels).float().mean().item()
