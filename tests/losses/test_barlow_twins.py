"""barlow_twins against a plain reference written from METHODS.md §3.5, plus its properties."""

from __future__ import annotations

import pytest
import torch

from sslkit.losses import barlow_twins


def reference(z1: torch.Tensor, z2: torch.Tensor, lambd: float) -> torch.Tensor:
    """BN(affine=False) per view, ``C = BN(z1)^T BN(z2) / B``, on-diagonal + lambd * off-diagonal."""
    batch, dim = z1.shape
    bn = torch.nn.BatchNorm1d(dim, affine=False).train()
    a, b = bn(z1), bn(z2)
    loss = torch.tensor(0.0)
    for i in range(dim):
        for j in range(dim):
            c_ij = sum(a[n, i] * b[n, j] for n in range(batch)) / batch
            loss = loss + ((1 - c_ij) ** 2 if i == j else lambd * c_ij**2)
    return loss


@pytest.mark.parametrize("lambd", [0.0051, 0.5])
def test_matches_the_formula(lambd: float) -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 4, generator=g), 3 * torch.randn(6, 4, generator=g) + 1
    assert torch.allclose(barlow_twins(z1, z2, lambd), reference(z1, z2, lambd), atol=1e-5)


def test_symmetric_and_invariant_to_per_dimension_affine_maps() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    assert torch.isclose(barlow_twins(z1, z2), barlow_twins(z2, z1))
    scale, shift = torch.rand(5, generator=g) + 0.5, torch.randn(5, generator=g)
    # equal up to BN's eps, which weighs a little differently once the variance changes
    assert torch.isclose(barlow_twins(z1, z2), barlow_twins(z1 * scale + shift, z2), rtol=1e-4)


def test_zero_for_whitened_identical_embeddings() -> None:
    batch, dim = 16, 4
    x = torch.randn(batch, dim, dtype=torch.float64)
    q, _ = torch.linalg.qr(x - x.mean(0))  # orthonormal, zero-mean columns
    z = (q * batch**0.5).float()  # per-dimension mean 0, biased variance 1, uncorrelated: C = I
    assert barlow_twins(z, z).item() < 1e-8  # only BN's eps keeps C_ii a hair below 1
    assert barlow_twins(z, -z).item() == pytest.approx(4 * dim, rel=1e-4)  # C = -I


def test_finite_for_constant_dimensions() -> None:
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    z[:, 0] = 1.0  # zero variance: BN's eps keeps it finite, with C_00 = 0 (and C_0j = 0)
    loss = barlow_twins(z, z, lambd=0.0)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(1.0, abs=1e-3)


def test_gradient_flows_to_both_inputs() -> None:
    z1 = torch.randn(6, 4, requires_grad=True)
    z2 = torch.randn(6, 4, requires_grad=True)
    barlow_twins(z1, z2).backward()
    assert z1.grad is not None and z1.grad.abs().sum() > 0
    assert z2.grad is not None and z2.grad.abs().sum() > 0


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="B >= 2"):
        barlow_twins(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="same shape"):
        barlow_twins(torch.randn(4, 3), torch.randn(4, 2))
