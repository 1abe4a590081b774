"""OneOf: per sample, one of two ops (never both), each run only on its own samples."""

from __future__ import annotations

import pytest
import torch

from sslkit.augment.choice import OneOf
from sslkit.augment.color import Solarize
from sslkit.augment.geometric import HorizontalFlip


def test_each_sample_gets_exactly_its_op() -> None:
    x = torch.rand(200, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    op = OneOf(HorizontalFlip(1.0), Solarize(1.0, threshold=0.5), p=0.3)
    params = op.sample(x, torch.Generator().manual_seed(1))
    assert float(params["second"].float().mean()) == pytest.approx(0.3, abs=0.08)
    out = op.apply(x, params)
    flipped, solarized = x.flip(-1), torch.where(x >= 0.5, 1 - x, x)
    for i in range(200):
        assert torch.equal(out[i], solarized[i] if params["second"][i] else flipped[i])


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_probability_extremes(p: float) -> None:
    x = torch.rand(16, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    out = OneOf(HorizontalFlip(1.0), Solarize(1.0), p=p)(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, torch.where(x >= 0.5, 1 - x, x) if p else x.flip(-1))
    with pytest.raises(ValueError):
        OneOf(HorizontalFlip(1.0), Solarize(1.0), p=1.5)
