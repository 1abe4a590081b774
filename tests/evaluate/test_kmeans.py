"""k-means (METHODS.md §2.4 baseline): recovers blobs, is deterministic, and is as good as sklearn's."""

from __future__ import annotations

import pytest
import torch
from sklearn.cluster import KMeans

from sslkit.evaluate.cluster_metrics import cluster_accuracy
from sslkit.evaluate.kmeans import kmeans, kmeans_fit, nearest_centre


def blobs(n_per: int, k: int, dim: int, spread: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(k, dim, generator=g)
    labels = torch.arange(k).repeat_interleave(n_per)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels


def test_recovers_well_separated_blobs() -> None:
    x, labels = blobs(40, 6, 8, spread=0.2)
    clusters = kmeans(x, 6, seed=0, n_init=1)
    assert clusters.dtype == torch.int64 and clusters.shape == labels.shape
    assert cluster_accuracy(labels, clusters) == 1.0


def test_deterministic_given_the_seed_and_leaves_the_global_rng_alone() -> None:
    x, _ = blobs(30, 5, 4, spread=2.0)
    state = torch.get_rng_state()
    first, second = kmeans_fit(x, 5, seed=3, n_init=2), kmeans_fit(x, 5, seed=3, n_init=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.clusters, second.clusters) and torch.equal(first.centres, second.centres)
    seeds = {tuple(kmeans(x, 5, seed=s, n_init=1).tolist()) for s in range(6)}
    assert len(seeds) > 1  # overlapping blobs: the seed matters


def test_inertia_is_as_low_as_sklearns() -> None:
    x, _ = blobs(60, 8, 5, spread=1.5, seed=1)  # overlapping blobs: local minima exist
    ours = kmeans_fit(x, 8, seed=0)
    reference = KMeans(8, n_init=10, random_state=0).fit(x.double().numpy())
    assert ours.inertia <= reference.inertia_ * 1.01
    _, distance = nearest_centre(x, ours.centres)
    assert ours.inertia == pytest.approx(float(distance.double().sum()), rel=1e-6)
    assert torch.equal(ours.clusters, nearest_centre(x, ours.centres)[0])  # converged: assignments are final


def test_chunks_do_not_change_the_result() -> None:
    x, _ = blobs(25, 4, 3, spread=1.0)
    whole, chunked = kmeans_fit(x, 4, seed=2, n_init=2), kmeans_fit(x, 4, seed=2, n_init=2, chunk_size=7)
    assert torch.equal(whole.clusters, chunked.clusters)
    assert torch.allclose(whole.centres, chunked.centres, atol=1e-5)


def test_duplicate_points_and_k_equal_to_n() -> None:
    x = torch.tensor([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 2)
    assert len(set(kmeans(x, 3, seed=0).tolist())) >= 2  # fewer distinct points than k does not crash
    assert sorted(kmeans(x[:3] + torch.arange(3.0).unsqueeze(1), 3, seed=0).tolist()) == [0, 1, 2]


@pytest.mark.parametrize(("shape", "k"), [((0, 3), 1), ((5, 3), 0), ((5, 3), 6), ((5,), 1)])
def test_bad_input_raises(shape: tuple[int, ...], k: int) -> None:
    with pytest.raises(ValueError):
        kmeans(torch.zeros(shape), k, seed=0)
