"""nt_xent against a plain reference written from METHODS.md §3.1, plus its properties."""

from __future__ import annotations

import math

import pytest
import torch

from sslkit.losses import nt_xent


def anchor_losses(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """``l_i = -log[exp(z_i . z_j / T) / sum_{k != i} exp(z_i . z_k / T)]`` for the 2B anchors."""
    z = [v / v.norm() for v in torch.cat([z1, z2])]
    n, batch = len(z), z1.shape[0]
    losses = []
    for i in range(n):
        j = (i + batch) % n
        denominator = sum(torch.exp(z[i] @ z[k] / temperature) for k in range(n) if k != i)
        losses.append(-torch.log(torch.exp(z[i] @ z[j] / temperature) / denominator))
    return torch.stack(losses)


def reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    return anchor_losses(z1, z2, temperature).mean()


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_matches_the_formula(temperature: float) -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    assert torch.allclose(nt_xent(z1, z2, temperature), reference(z1, z2, temperature), atol=1e-5)


def test_symmetric_and_scale_invariant() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    assert torch.isclose(nt_xent(z1, z2), nt_xent(z2, z1))
    assert torch.isclose(nt_xent(z1, z2), nt_xent(3 * z1, 0.5 * z2))  # L2-normalised inside


def test_finite_at_small_temperature_and_for_identical_views() -> None:
    z = torch.randn(16, 8)
    for temperature in (0.01, 0.1):
        assert torch.isfinite(nt_xent(z, z, temperature))
        assert torch.isfinite(nt_xent(z, -z, temperature))


def test_orthogonal_identical_views_approach_the_lower_bound() -> None:
    batch = 4
    z = torch.eye(batch)  # orthogonal samples, z1 = z2
    for temperature in (1.0, 0.5, 0.1):
        expected = math.log(1 + (2 * batch - 2) * math.exp(-1 / temperature))
        assert math.isclose(nt_xent(z, z, temperature).item(), expected, rel_tol=1e-4, abs_tol=1e-6)
    assert nt_xent(z, z, 0.02).item() < 1e-6


def test_gradient_flows_to_both_inputs() -> None:
    z1 = torch.randn(6, 4, requires_grad=True)
    z2 = torch.randn(6, 4, requires_grad=True)
    nt_xent(z1, z2).backward()
    assert z1.grad is not None and z1.grad.abs().sum() > 0
    assert z2.grad is not None and z2.grad.abs().sum() > 0


def test_official_tf_convention_is_twice_this() -> None:
    """The TF code sums the two directional means; each is the mean over one view's B anchors."""
    z1, z2 = torch.randn(6, 4), torch.randn(6, 4)
    losses = anchor_losses(z1, z2, 0.5)
    loss_a, loss_b = losses[:6].mean(), losses[6:].mean()  # anchors from view 1, from view 2
    assert torch.isclose(loss_a + loss_b, 2 * nt_xent(z1, z2, 0.5), atol=1e-6)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(4, 3), torch.randn(4, 3), temperature=0.0)
