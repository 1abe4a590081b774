"""Cluster-level contrastive loss of Contrastive Clustering (CC) and SACC (METHODS.md §7.1 step 4).

The columns of a ``(B, K)`` soft-assignment matrix are ``K`` B-dimensional "cluster
representations"; the same cluster seen through two views must pick out its partner column among
the other ``2K - 2`` columns (NT-Xent over columns, cosine similarity), and an entropy term keeps
the batch's cluster marginal from collapsing onto a few clusters.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F


class ClusterContrastiveTerms(NamedTuple):
    """The two parts of :func:`cluster_contrastive`, for logging.

    Attributes:
        contrast: NT-Xent over the 2K columns (CE summed over columns, divided by 2K).
        entropy: ``[log K - H(P_a)] + [log K - H(P_b)]``; 0 iff both batch marginals are uniform.
    """

    contrast: torch.Tensor
    entropy: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """``contrast + entropy``: the value :func:`cluster_contrastive` returns."""
        return self.contrast + self.entropy


def marginal_entropy_gap(c: torch.Tensor) -> torch.Tensor:
    """``log K - H(P)`` with ``P = normalise(column sums of c)``, the batch cluster marginal.

    Non-negative; 0 exactly when ``P`` is uniform. ``0 log 0`` is taken as 0 (``torch.xlogy``), so an
    empty cluster gives a finite value where the released code's ``p * log(p)`` gives NaN.

    Args:
        c: ``(B, K)`` non-negative soft assignments (softmax outputs).

    Returns:
        A scalar.
    """
    marginal = c.sum(dim=0)  # K
    marginal = marginal / marginal.sum()
    return math.log(c.shape[1]) + torch.xlogy(marginal, marginal).sum()


def cluster_contrastive_terms(c1: torch.Tensor, c2: torch.Tensor, temperature: float = 1.0) -> ClusterContrastiveTerms:
    """The contrastive and entropy parts of the CC / SACC cluster loss (METHODS.md §7.1 step 4).

    With ``a = c1.T`` and ``b = c2.T`` stacked into ``2K`` column vectors ``y_1 .. y_2K``, column ``k``
    of view a has column ``k`` of view b as positive and the other ``2K - 2`` columns as negatives::

        l_i = -log[ exp(cos(y_i, y_j(i)) / T) / sum_{k != i} exp(cos(y_i, y_k) / T) ]
        contrast = sum_i l_i / 2K
        entropy = [log K - H(P_a)] + [log K - H(P_b)]

    as ``ClusterLoss`` of Yunfan-Li/Contrastive-Clustering (``modules/contrastive_loss.py``), which
    SACC reuses. Computed in float32 with autocast off. Gradients flow into both inputs.

    Args:
        c1: ``(B, K)`` soft cluster assignments of the first view (rows sum to 1).
        c2: ``(B, K)`` soft cluster assignments of the second view, row ``i`` the same image.
        temperature: ``T`` (tau_C; CC and SACC: 1.0).

    Returns:
        The two parts; ``.total`` is their sum.

    Raises:
        ValueError: The inputs are not two ``(B, K)`` tensors of one shape with ``K >= 2``, or ``T <= 0``.
    """
    if c1.shape != c2.shape or c1.ndim != 2:
        raise ValueError(f"cluster_contrastive expects two (B, K) tensors of the same shape, got "
                         f"{tuple(c1.shape)} and {tuple(c2.shape)}")
    if c1.shape[1] < 2:
        raise ValueError(f"cluster_contrastive needs K >= 2 clusters (columns), got {c1.shape[1]}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    k = c1.shape[1]
    with torch.autocast(c1.device.type, enabled=False):
        c1, c2 = c1.float(), c2.float()
        y = F.normalize(torch.cat([c1.T, c2.T]), dim=1)  # 2KxB, unit columns of the two views
        logits = y @ y.T / temperature  # 2Kx2K cosine similarities
        logits = logits.masked_fill(torch.eye(2 * k, dtype=torch.bool, device=y.device), float("-inf"))
        index = torch.arange(k, device=y.device)
        positive = torch.cat([index + k, index])  # cluster k of view a <-> cluster k of view b
        contrast = F.cross_entropy(logits, positive, reduction="sum") / (2 * k)
        entropy = marginal_entropy_gap(c1) + marginal_entropy_gap(c2)
    return ClusterContrastiveTerms(contrast, entropy)


def cluster_contrastive(c1: torch.Tensor, c2: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """CC / SACC cluster-level loss: column NT-Xent plus the marginal-entropy regulariser.

    See :func:`cluster_contrastive_terms` for the formula (METHODS.md §7.1 step 4).

    Args:
        c1: ``(B, K)`` soft cluster assignments of the first view.
        c2: ``(B, K)`` soft cluster assignments of the second view.
        temperature: tau_C (CC and SACC: 1.0).

    Returns:
        A scalar: ``contrast + entropy``.
    """
    return cluster_contrastive_terms(c1, c2, temperature).total
