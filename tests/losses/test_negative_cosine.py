"""negative_cosine against a plain reference written from METHODS.md §0.1."""

from __future__ import annotations

import torch

from sslkit.losses import negative_cosine


def reference(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    values = []
    for pi, zi in zip(p, z, strict=False):
        values.append(-(pi @ zi) / (pi.norm() * zi.norm()))
    return torch.stack(values).mean()


def test_matches_the_formula() -> None:
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    assert torch.allclose(negative_cosine(p, z), reference(p, z), atol=1e-6)


def test_bounds() -> None:
    z = torch.randn(4, 8)
    assert torch.isclose(negative_cosine(z, z), torch.tensor(-1.0))
    assert torch.isclose(negative_cosine(-z, z), torch.tensor(1.0))


def test_gradient_stops_at_the_target() -> None:
    p = torch.randn(4, 8, requires_grad=True)
    z = torch.randn(4, 8, requires_grad=True)
    negative_cosine(p, z).backward()
    assert p.grad is not None and p.grad.abs().sum() > 0
    assert z.grad is None
