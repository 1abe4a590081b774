"""EMA targets (METHODS.md §0.2, §9.1): schedule values, update math, frozen copies, EMAN buffers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslkit.models.ema import EMA, cosine_tau


def test_cosine_tau_goes_from_base_to_one() -> None:
    assert cosine_tau(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_tau(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_tau(0.99, 1.0) == pytest.approx(1.0)


def test_update_is_the_moving_average_and_the_copy_is_frozen() -> None:
    online = nn.Linear(3, 2)
    ema = EMA([online])
    target = ema.copies[0]
    assert all(not p.requires_grad for p in ema.parameters())
    before = target.weight.clone()
    with torch.no_grad():
        online.weight.add_(1.0)
    ema.update([online], tau=0.9)
    assert torch.allclose(target.weight, 0.9 * before + 0.1 * online.weight)


def test_buffers_follow_only_with_eman() -> None:
    online = nn.BatchNorm1d(4)
    online(torch.randn(8, 4) * 3 + 1)  # move the running statistics
    plain, eman = EMA([nn.BatchNorm1d(4)]), EMA([nn.BatchNorm1d(4)], buffers=True)
    plain.update([online], 0.5)
    eman.update([online], 0.5)
    assert torch.equal(plain.copies[0].running_mean, torch.zeros(4))
    assert torch.allclose(eman.copies[0].running_mean, 0.5 * online.running_mean)
    assert eman.copies[0].num_batches_tracked == online.num_batches_tracked  # copied, not averaged


def test_eman_target_stays_in_eval_mode() -> None:
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    plain, eman = EMA([online]), EMA([online], buffers=True)
    for mode in (True, False, True):
        plain.train(mode)
        eman.train(mode)
        assert plain.copies[0][1].training is mode
        assert not eman.copies[0][1].training


def test_forward_chains_the_copies() -> None:
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    x = torch.randn(5, 3)
    assert torch.allclose(EMA([a, b])(x), b(a(x)))
