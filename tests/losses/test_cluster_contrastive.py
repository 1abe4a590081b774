"""cluster_contrastive against a plain reference written from METHODS.md §7.1 step 4, plus properties."""

from __future__ import annotations

import math

import pytest
import torch

from sslkit.losses import cluster_contrastive
from sslkit.losses.cluster_contrastive import cluster_contrastive_terms, marginal_entropy_gap


def soft_assignments(batch: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, k, generator=g).softmax(dim=1)


def reference_contrast(c1: torch.Tensor, c2: torch.Tensor, temperature: float) -> float:
    """NT-Xent over the 2K columns with cosine similarity: CE summed over columns, divided by 2K."""
    k = c1.shape[1]
    columns = [c1[:, j] for j in range(k)] + [c2[:, j] for j in range(k)]

    def cos(u: torch.Tensor, v: torch.Tensor) -> float:
        return float(u @ v) / (float(u.norm()) * float(v.norm()))

    total = 0.0
    for i in range(2 * k):
        j = (i + k) % (2 * k)
        denominator = sum(math.exp(cos(columns[i], columns[m]) / temperature) for m in range(2 * k) if m != i)
        total += -math.log(math.exp(cos(columns[i], columns[j]) / temperature) / denominator)
    return total / (2 * k)


def reference_entropy(c1: torch.Tensor, c2: torch.Tensor) -> float:
    """``[log K - H(P_a)] + [log K - H(P_b)]``, P = normalised column sums."""
    total = 0.0
    for c in (c1, c2):
        sums = [float(c[:, j].sum()) for j in range(c.shape[1])]
        p = [s / sum(sums) for s in sums]
        total += math.log(len(p)) + sum(q * math.log(q) for q in p if q > 0)
    return total


@pytest.mark.parametrize(("batch", "k", "temperature"), [(6, 3, 1.0), (8, 5, 0.5), (4, 10, 2.0)])
def test_matches_the_formula(batch: int, k: int, temperature: float) -> None:
    c1, c2 = soft_assignments(batch, k, 0), soft_assignments(batch, k, 1)
    terms = cluster_contrastive_terms(c1, c2, temperature)
    assert math.isclose(terms.contrast.item(), reference_contrast(c1, c2, temperature), rel_tol=1e-5)
    assert math.isclose(terms.entropy.item(), reference_entropy(c1, c2), rel_tol=1e-5, abs_tol=1e-7)
    expected = reference_contrast(c1, c2, temperature) + reference_entropy(c1, c2)
    assert math.isclose(cluster_contrastive(c1, c2, temperature).item(), expected, rel_tol=1e-5)
    assert torch.equal(terms.total, cluster_contrastive(c1, c2, temperature))


def test_entropy_term_is_zero_for_a_uniform_marginal_and_positive_otherwise() -> None:
    k = 4
    balanced = torch.eye(k).repeat(3, 1)  # 12 one-hot rows, every cluster used 3 times
    assert abs(marginal_entropy_gap(balanced).item()) < 1e-6
    assert abs(marginal_entropy_gap(torch.full((5, k), 1 / k)).item()) < 1e-6
    skewed = soft_assignments(7, k, 0)
    assert marginal_entropy_gap(skewed).item() > 0
    collapsed = torch.zeros(6, k)
    collapsed[:, 0] = 1.0  # every sample in one cluster: the gap is its maximum, log K
    assert math.isclose(marginal_entropy_gap(collapsed).item(), math.log(k), rel_tol=1e-6)
    terms = cluster_contrastive_terms(balanced, balanced)
    assert abs(terms.entropy.item()) < 1e-6


def test_symmetric_and_column_scale_invariant_contrast() -> None:
    c1, c2 = soft_assignments(8, 4, 0), soft_assignments(8, 4, 1)
    assert torch.isclose(cluster_contrastive(c1, c2), cluster_contrastive(c2, c1))
    a, b = cluster_contrastive_terms(c1, c2), cluster_contrastive_terms(3 * c1, c2)
    assert torch.isclose(a.contrast, b.contrast) and torch.isclose(a.entropy, b.entropy)


def test_finite_with_an_empty_cluster() -> None:
    c = torch.eye(3)[[0, 1, 0, 1]]  # cluster 2 is never used: 0 log 0 = 0, the column norm is 0
    terms = cluster_contrastive_terms(c, c)
    assert torch.isfinite(terms.contrast) and torch.isfinite(terms.entropy)


def test_gradient_flows_to_both_inputs() -> None:
    logits1 = torch.randn(6, 3, requires_grad=True)
    logits2 = torch.randn(6, 3, requires_grad=True)
    cluster_contrastive(logits1.softmax(1), logits2.softmax(1)).backward()
    assert logits1.grad is not None and logits1.grad.abs().sum() > 0
    assert logits2.grad is not None and logits2.grad.abs().sum() > 0


@pytest.mark.parametrize(("c1", "c2", "temperature", "message"), [
    (torch.ones(4, 3), torch.ones(4, 2), 1.0, "same shape"),
    (torch.ones(4), torch.ones(4), 1.0, "same shape"),
    (torch.ones(4, 1), torch.ones(4, 1), 1.0, "K >= 2"),
    (torch.ones(4, 3), torch.ones(4, 3), 0.0, "temperature"),
])
def test_rejects_bad_inputs(c1: torch.Tensor, c2: torch.Tensor, temperature: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_contrastive(c1, c2, temperature)
