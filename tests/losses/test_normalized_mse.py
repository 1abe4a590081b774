"""normalized_mse against the formula of METHODS.md §0.1."""

from __future__ import annotations

import torch

from sslkit.losses import normalized_mse


def test_matches_the_squared_distance_of_unit_vectors() -> None:
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    expected = torch.stack([((a / a.norm() - b / b.norm()) ** 2).sum() for a, b in zip(p, z, strict=True)]).mean()
    assert torch.allclose(normalized_mse(p, z), expected, atol=1e-6)


def test_bounds_and_stop_gradient() -> None:
    p = torch.randn(4, 8, requires_grad=True)
    z = torch.randn(4, 8, requires_grad=True)
    assert torch.isclose(normalized_mse(p.detach(), p.detach()), torch.tensor(0.0), atol=1e-6)
    assert torch.isclose(normalized_mse(-p.detach(), p.detach()), torch.tensor(4.0))
    normalized_mse(p, z).backward()
    assert p.grad is not None and z.grad is None
