"""VICReg loss: against a loop reference written from the paper's formula, and its zero cases."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("sslkit_vicreg", reason="sslkit-vicreg is not installed (pip install -e plugins/sslkit-vicreg)")

from sslkit_vicreg.loss import covariance_term, variance_term, vicreg_loss  # noqa: E402


def reference(z1: torch.Tensor, z2: torch.Tensor, lam: float, mu: float, nu: float, eps: float) -> float:
    """Eq. 1-6 of the paper with plain loops (variance averaged over the branches, as the official code)."""
    batch, dim = z1.shape
    z1, z2 = z1.double().tolist(), z2.double().tolist()
    invariance = sum((z1[b][j] - z2[b][j]) ** 2 for b in range(batch) for j in range(dim)) / (batch * dim)

    def v_and_c(z: list[list[float]]) -> tuple[float, float]:
        mean = [sum(row[j] for row in z) / batch for j in range(dim)]
        cov = [[sum((row[i] - mean[i]) * (row[j] - mean[j]) for row in z) / (batch - 1) for j in range(dim)]
               for i in range(dim)]
        v = sum(max(0.0, 1 - math.sqrt(cov[j][j] + eps)) for j in range(dim)) / dim
        c = sum(cov[i][j] ** 2 for i in range(dim) for j in range(dim) if i != j) / dim
        return v, c

    (v1, c1), (v2, c2) = v_and_c(z1), v_and_c(z2)
    return lam * invariance + mu * (v1 + v2) / 2 + nu * (c1 + c2)


@pytest.mark.parametrize("scale", [0.3, 2.0])  # std below 1 (hinge active) and above 1 (hinge off)
def test_matches_the_formula(scale: float) -> None:
    g = torch.Generator().manual_seed(0)
    z1 = scale * torch.randn(7, 5, generator=g)
    z2 = z1 + 0.5 * torch.randn(7, 5, generator=g)
    for coeffs in [(25.0, 25.0, 1.0), (1.0, 3.0, 0.5)]:
        terms = vicreg_loss(z1, z2, *coeffs, eps=1e-4)
        assert terms.loss.item() == pytest.approx(reference(z1, z2, *coeffs, eps=1e-4), rel=1e-5)
    lam, mu, nu = 25.0, 25.0, 1.0
    terms = vicreg_loss(z1, z2)
    combined = lam * terms.invariance + mu * terms.variance + nu * terms.covariance
    assert torch.allclose(terms.loss, combined)
    assert torch.allclose(vicreg_loss(z2, z1).loss, terms.loss)  # symmetric


def test_variance_term_is_zero_when_every_std_is_at_least_one() -> None:
    z = torch.tensor([[-1.5, 2.0], [1.5, -2.0], [0.0, 0.0]])  # unbiased std 1.5 and 2
    assert variance_term(z).item() == 0.0
    collapsed = torch.ones(4, 3)  # std 0: the hinge gives 1 - sqrt(eps) per dimension
    assert variance_term(collapsed).item() == pytest.approx(1 - math.sqrt(1e-4))


def test_covariance_term_is_zero_for_decorrelated_embeddings() -> None:
    # Columns of a scaled Hadamard matrix: mean 0 and pairwise orthogonal, so C is diagonal.
    h = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [1.0, -1.0, -1.0]])[:, 1:]
    z = torch.cat([3 * h, 3 * h[:, :1] * h[:, 1:]], dim=1)  # 4x3, three orthogonal zero-mean columns
    assert covariance_term(z).item() == pytest.approx(0.0, abs=1e-7)
    correlated = torch.cat([z[:, :1], z[:, :1]], dim=1)  # two equal columns: C_01 = C_10 = var
    assert covariance_term(correlated).item() > 0
    terms = vicreg_loss(z, z)
    assert terms.loss.item() == pytest.approx(0.0, abs=1e-6)  # invariant, std >= 1, decorrelated


def test_fp32_under_autocast_and_gradients_reach_both_branches() -> None:
    z1 = torch.randn(8, 4, requires_grad=True)
    z2 = torch.randn(8, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = vicreg_loss(z1.bfloat16(), z2.bfloat16())
    assert terms.loss.dtype == torch.float32
    terms.loss.backward()
    assert z1.grad is not None and z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0


def test_bad_shapes_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="same shape with B >= 2"):
        vicreg_loss(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match="same shape"):
        vicreg_loss(torch.randn(4, 3), torch.randn(4, 2))
