"""Clustering scores against ground-truth labels: NMI, ACC and ARI (METHODS.md §2.4, the CC / SACC protocol).

All three are computed from one contingency table ``n[c, y]`` (samples of class ``y`` in cluster
``c``), built here with numpy; the numbers of clusters and classes may differ.

* **NMI** ``I(Y; C) / mean(H(Y), H(C))``, natural logarithms, arithmetic-mean normalisation
  (sklearn's ``normalized_mutual_info_score`` default).
* **ACC** ``max_m (1/n) sum_i 1[y_i = m(c_i)]`` over one-to-one maps from clusters to classes,
  solved by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment`` maximising the matched
  counts, equivalent to SACC's ``munkres`` on ``|cluster c| - n[c, y]``). Clusters left unmatched
  (more clusters than classes) count as wrong.
* **ARI** ``(RI - E[RI]) / (max RI - E[RI])`` from pair counts (sklearn's ``adjusted_rand_score``).

Edge cases follow sklearn: an empty labelling, or two labellings that both put everything in one
group (or both put every sample alone), agree perfectly (1.0); a single cluster against several
classes carries no information (NMI 0, ARI 0). ACC of an empty labelling is 1.0 by the same
convention.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

Labels = torch.Tensor | np.ndarray | list[int]


def contingency_table(labels: Labels, clusters: Labels) -> np.ndarray:
    """Counts ``n[c, y]`` of samples in cluster ``c`` with label ``y`` (int64, only values that occur).

    Args:
        labels: ``(N,)`` integer ground-truth labels (any values).
        clusters: ``(N,)`` integer cluster ids (any values).

    Returns:
        ``(num_clusters_present, num_labels_present)`` int64 table.
    """
    y, c = _as_array(labels), _as_array(clusters)
    if y.shape != c.shape:
        raise ValueError(f"labels and clusters differ in shape: {y.shape} vs {c.shape}")
    _, y_index = np.unique(y, return_inverse=True)
    _, c_index = np.unique(c, return_inverse=True)
    rows, cols = int(c_index.max(initial=-1)) + 1, int(y_index.max(initial=-1)) + 1
    flat = np.bincount(c_index.reshape(-1) * cols + y_index.reshape(-1), minlength=rows * cols)
    return flat.reshape(rows, cols).astype(np.int64)


def nmi(labels: Labels, clusters: Labels) -> float:
    """Normalised mutual information with arithmetic-mean normalisation, in [0, 1]."""
    table = contingency_table(labels, clusters)
    rows, cols = table.shape
    if rows == cols <= 1:  # both labellings are one group (or empty): a perfect match
        return 1.0
    if rows == 1 or cols == 1:  # one side is a single group: no shared information (exactly 0)
        return 0.0
    mi = _mutual_information(table)
    if mi <= 0.0:
        return 0.0
    normaliser = (_entropy(table.sum(axis=1)) + _entropy(table.sum(axis=0))) / 2
    return min(float(mi / normaliser), 1.0)  # I(Y; C) <= min(H(Y), H(C)); only rounding can exceed 1


def ari(labels: Labels, clusters: Labels) -> float:
    """Adjusted Rand index, in [-0.5, 1] (0 for chance, 1 for identical partitions)."""
    table = contingency_table(labels, clusters)
    n = int(table.sum())
    index = sum(math.comb(int(v), 2) for v in table.ravel())
    a = sum(math.comb(int(v), 2) for v in table.sum(axis=1))
    b = sum(math.comb(int(v), 2) for v in table.sum(axis=0))
    pairs = math.comb(n, 2)
    if pairs == 0:  # fewer than two samples
        return 1.0
    expected = a * b / pairs
    maximum = (a + b) / 2
    if maximum == expected:  # both one group, or both all singletons: identical partitions
        return 1.0
    return float((index - expected) / (maximum - expected))


def cluster_accuracy(labels: Labels, clusters: Labels) -> float:
    """Accuracy under the best one-to-one map from clusters to labels (Hungarian matching), in [0, 1]."""
    table = contingency_table(labels, clusters)
    total = int(table.sum())
    if total == 0:
        return 1.0
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / total)


def _as_array(values: Labels) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {array.dtype}")
    return array.astype(np.int64, copy=False)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _mutual_information(table: np.ndarray) -> float:
    n = table.sum()
    rows, cols = np.nonzero(table)
    n_ij = table[rows, cols].astype(np.float64)
    a, b = table.sum(axis=1).astype(np.float64), table.sum(axis=0).astype(np.float64)
    mi = (n_ij / n) * (np.log(n_ij) + math.log(n) - np.log(a[rows]) - np.log(b[cols]))
    return max(float(mi.sum()), 0.0)
