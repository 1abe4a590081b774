"""LEWEL's per-position MLP (METHODS.md §8.1, §9 "MLP1D"): layers, per-position semantics, init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sslkit.models.mlp1d import MLP1D


def test_layers_follow_lewel_conv_bn_relu_conv_without_bias() -> None:
    head = MLP1D(32, 64, 16)
    assert [type(m) for m in head] == [nn.Conv1d, nn.BatchNorm1d, nn.ReLU, nn.Conv1d]
    convs = [m for m in head if isinstance(m, nn.Conv1d)]
    assert all(m.kernel_size == (1,) and m.bias is None for m in convs)
    assert head(torch.randn(4, 32, 7)).shape == (4, 16, 7)
    assert [type(m) for m in MLP1D(8, 8, 8, num_layers=1)] == [nn.Conv1d]


def test_it_is_one_linear_mlp_applied_at_every_position_with_bn_over_batch_and_positions() -> None:
    torch.manual_seed(0)
    head = MLP1D(6, 10, 4)
    flat = nn.Sequential(nn.Linear(6, 10, bias=False), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 4, bias=False))
    flat[0].weight.data.copy_(head[0].weight.squeeze(-1))
    flat[3].weight.data.copy_(head[3].weight.squeeze(-1))
    x = torch.randn(3, 6, 5)  # B x C x L
    expected = flat(x.transpose(1, 2).reshape(15, 6)).reshape(3, 5, 4).transpose(1, 2)  # BN over B*L rows
    assert torch.allclose(head(x), expected, atol=1e-5)


def test_init_is_kaiming_normal_fan_out_and_unit_bn() -> None:
    torch.manual_seed(0)
    head = MLP1D(64, 1024, 512)
    for conv in (head[0], head[3]):
        fan_out = conv.out_channels  # kernel size 1
        assert conv.weight.mean().abs() < 0.01
        assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.05)
    assert torch.equal(head[1].weight, torch.ones(1024)) and torch.equal(head[1].bias, torch.zeros(1024))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="num_layers"):
        MLP1D(4, 4, 4, num_layers=0)
    with pytest.raises(ValueError, match="positive"):
        MLP1D(4, 0, 4)
    with pytest.raises(ValueError, match=r"\(B, C, L\)"):
        MLP1D(4, 4, 4)(torch.randn(2, 4))
