"""The MLP builder expresses SimSiam's projector and predictor (METHODS.md §3.4)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sslkit.models import mlp


def _types(head: nn.Sequential) -> list[type]:
    return [type(m) for m in head]


def test_simsiam_projector_three_layers() -> None:
    head = mlp(2048, 2048, 2048, num_layers=3, last_bn=True, last_bn_affine=False)
    L, B, R = nn.Linear, nn.BatchNorm1d, nn.ReLU
    assert _types(head) == [L, B, R, L, B, R, L, B]
    assert all(m.bias is None for m in head if isinstance(m, nn.Linear))
    assert not head[-1].affine and head[1].affine


def test_simsiam_projector_two_layers_cifar() -> None:
    head = mlp(512, 2048, 2048, num_layers=2, last_bn=True, last_bn_affine=False)
    assert _types(head) == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d]
    assert head(torch.randn(4, 512)).shape == (4, 2048)


def test_simsiam_predictor() -> None:
    head = mlp(2048, 512, 2048)
    assert _types(head) == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert head[0].bias is None and head[3].bias is not None
    assert (head[0].in_features, head[0].out_features, head[3].out_features) == (2048, 512, 2048)


def test_options() -> None:
    head = mlp(8, 16, 4, hidden_bn=False, bias=True)
    assert _types(head) == [nn.Linear, nn.ReLU, nn.Linear]
    assert _types(mlp(8, 16, 4, num_layers=1, last_bn=True)) == [nn.Linear, nn.BatchNorm1d]
    with pytest.raises(ValueError):
        mlp(8, 16, 4, num_layers=0)
