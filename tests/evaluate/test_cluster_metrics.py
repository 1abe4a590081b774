"""Clustering scores (METHODS.md §2.4) against sklearn, a brute force over maps, and their edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from sslkit.evaluate.cluster_metrics import ari, cluster_accuracy, contingency_table, nmi


def random_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a partly informative clustering: sizes 1..500, C and K from 1 to 12, K != C often."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 3, 7, 40, 200, 500]))
    classes, k = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    labels = rng.integers(0, classes, n) * 3 - 2  # arbitrary label values, negatives included
    informative = (labels + 2) // 3 % k
    clusters = np.where(rng.random(n) < rng.random(), informative, rng.integers(0, k, n)) + 100
    return labels, clusters


@pytest.mark.parametrize("seed", range(60))
def test_nmi_and_ari_equal_sklearn(seed: int) -> None:
    labels, clusters = random_case(seed)
    assert nmi(labels, clusters) == pytest.approx(normalized_mutual_info_score(labels, clusters), abs=1e-10)
    assert ari(labels, clusters) == pytest.approx(adjusted_rand_score(labels, clusters), abs=1e-10)


def brute_force_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Best accuracy over every one-to-one map from clusters to classes (unmatched clusters are wrong)."""
    ys, cs = np.unique(labels), np.unique(clusters)
    best = 0
    if len(cs) <= len(ys):
        maps = (dict(zip(cs, p, strict=True)) for p in itertools.permutations(ys, len(cs)))
    else:
        maps = ({c: y for c, y in zip(p, ys, strict=True)} for p in itertools.permutations(cs, len(ys)))
    for m in maps:
        best = max(best, sum(m.get(c) == y for y, c in zip(labels, clusters, strict=True)))
    return best / len(labels)


@pytest.mark.parametrize("seed", range(20))
def test_accuracy_equals_a_brute_force_over_maps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes, k, n = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 60))
    labels = rng.integers(0, classes, n)
    clusters = np.where(rng.random(n) < 0.5, labels % k, rng.integers(0, k, n))
    assert cluster_accuracy(labels, clusters) == pytest.approx(brute_force_accuracy(labels, clusters))


def test_a_permuted_perfect_clustering_scores_one() -> None:
    labels = torch.arange(7).repeat_interleave(13)
    clusters = torch.tensor([3, 6, 0, 5, 1, 4, 2])[labels] + 10  # a relabelling of the classes
    assert nmi(labels, clusters) == pytest.approx(1.0, abs=1e-12)  # entropies in floating point
    assert (cluster_accuracy(labels, clusters), ari(labels, clusters)) == (1.0, 1.0)


def test_accuracy_counts_a_class_split_over_two_clusters_once() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 1, 1, 2, 2])  # class 0 split in two: only one half can match
    assert cluster_accuracy(labels, clusters) == pytest.approx(4 / 6)
    assert cluster_accuracy(clusters, labels) == pytest.approx(4 / 6)  # more classes than clusters


def test_one_cluster_carries_no_information() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2])
    one = np.zeros(6, dtype=np.int64)
    assert nmi(labels, one) == 0.0 and ari(labels, one) == 0.0
    assert cluster_accuracy(labels, one) == pytest.approx(2 / 6)  # the largest class


def test_edge_cases_follow_sklearn() -> None:
    empty = np.array([], dtype=np.int64)
    for y, c in ((empty, empty), (np.zeros(5, int), np.ones(5, int)), (np.arange(5), np.arange(5) + 3),
                 (np.array([4]), np.array([9]))):
        assert nmi(y, c) == normalized_mutual_info_score(y, c) == 1.0
        assert ari(y, c) == adjusted_rand_score(y, c) == 1.0
        assert cluster_accuracy(y, c) == 1.0


def test_contingency_table_counts_pairs_and_checks_its_input() -> None:
    table = contingency_table(torch.tensor([5, 5, 7, 7, 7]), [1, 2, 2, 2, 2])
    assert table.tolist() == [[1, 0], [1, 3]]  # rows: clusters 1, 2; columns: labels 5, 7
    with pytest.raises(ValueError, match="shape"):
        contingency_table([0, 1], [0])
    with pytest.raises(ValueError, match="integers"):
        contingency_table(np.array([0.5, 1.0]), np.array([0, 1]))
