"""Properties every op must have: reproducible, pure, in range, C = 1 and 3, p extremes."""

from __future__ import annotations

import pytest
import torch

from sslkit.augment import (
    ColorJitter,
    GaussianBlur,
    HorizontalFlip,
    Op,
    RandomGrayscale,
    RandomResizedCrop,
    Solarize,
)


def _ops(p: float = 0.5) -> list[Op]:
    return [RandomResizedCrop(16, (0.08, 1.0)), HorizontalFlip(p), ColorJitter(0.8, 0.8, 0.8, 0.2, p=p),
            RandomGrayscale(p), GaussianBlur(p), Solarize(p)]


@pytest.mark.parametrize("op", _ops(), ids=lambda op: type(op).__name__)
def test_same_seed_same_output(batch: torch.Tensor, op: Op) -> None:
    a = op(batch, torch.Generator().manual_seed(7))
    b = op(batch, torch.Generator().manual_seed(7))
    c = op(batch, torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    if not isinstance(op, RandomGrayscale) or batch.shape[1] == 3:
        assert not torch.equal(a, c)


@pytest.mark.parametrize("op", _ops(), ids=lambda op: type(op).__name__)
def test_pure_in_range_and_shape(batch: torch.Tensor, op: Op) -> None:
    before = batch.clone()
    out = op(batch, torch.Generator().manual_seed(0))
    torch.testing.assert_close(batch, before, atol=0, rtol=0)
    assert out.dtype == batch.dtype and out.shape[:2] == batch.shape[:2]
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    if out.data_ptr() == batch.data_ptr():  # returning the input itself is allowed, never mutating it
        assert out is batch


@pytest.mark.parametrize("op", _ops(p=0.0)[1:], ids=lambda op: type(op).__name__)
def test_probability_zero_is_identity(batch: torch.Tensor, op: Op) -> None:
    torch.testing.assert_close(op(batch, torch.Generator().manual_seed(0)), batch, atol=0, rtol=0)


@pytest.mark.parametrize("op", _ops(p=1.0)[1:], ids=lambda op: type(op).__name__)
def test_probability_one_always_applies(op: Op) -> None:
    x = torch.rand(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    params = op.sample(x, torch.Generator().manual_seed(1))
    assert bool(params["apply"].all())
    out = op.apply(x, params)
    assert all(not torch.equal(out[i], x[i]) for i in range(x.shape[0]))


@pytest.mark.parametrize("p", [0.2, 0.8])
def test_probability_is_per_sample_rate(p: float) -> None:
    x = torch.zeros(5000, 3, 1, 1)
    for op in _ops(p)[1:]:
        rate = float(op.sample(x, torch.Generator().manual_seed(3))["apply"].float().mean())
        assert abs(rate - p) < 0.03, type(op).__name__


def test_default_generator_is_accepted(batch: torch.Tensor) -> None:
    for op in _ops():
        assert op(batch).shape[0] == batch.shape[0]
