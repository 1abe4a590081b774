"""Per-position MLP built from 1x1 ``Conv1d`` layers: LEWEL's "MLP1D" (METHODS.md §8.1, §9).

A 1x1 convolution over a ``(B, C, L)`` tensor applies the same ``Linear`` to each of the ``L``
positions, and the ``BatchNorm1d`` between the layers normalises over ``B x L``. LEWEL uses it so
that one projector maps the pooled feature *and* every pixel feature (its logits become the
alignment maps), and so that its predictors regress all ``K`` aligned embeddings at once::

    projector = MLP1D(2048, 4096, 256)  # Conv1d(no bias) -> BN1d -> ReLU -> Conv1d(no bias)
    z = projector(torch.randn(32, 2048, 50))  # 32x256x50: the same MLP at each of 50 positions
"""

from __future__ import annotations

import torch
from torch import nn


class MLP1D(nn.Sequential):
    """``Conv1d(1x1) -> BN1d -> ReLU`` hidden layers, then a last ``Conv1d(1x1)``; ``(B, C, L) -> (B, out, L)``.

    Weights follow the released LEWEL code (METHODS.md §8.1 "Init"): Kaiming-normal (``fan_out``,
    ReLU gain) for every ``Conv1d``, BN weight 1 and bias 0.

    Args:
        in_dim: Input channels ``C``.
        hidden_dim: Channels of the hidden layers.
        out_dim: Output channels.
        num_layers: Number of ``Conv1d`` layers (>= 1; LEWEL uses 2).
        bias: Bias of the ``Conv1d`` layers (LEWEL: ``False``, also on the last layer).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2, bias: bool = False) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if min(in_dim, hidden_dim, out_dim) < 1:
            raise ValueError(f"MLP1D dimensions must be positive, got {in_dim}, {hidden_dim}, {out_dim}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Conv1d(dim, hidden_dim, 1, bias=bias), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
            dim = hidden_dim
        layers.append(nn.Conv1d(dim, out_dim, 1, bias=bias))
        super().__init__(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan_out) convolutions with zero bias; BN weight 1, bias 0 (LEWEL ``utils/init.py``)."""
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP at every position of ``x`` (``(B, C, L)``); returns ``(B, out_dim, L)``."""
        if x.ndim != 3:
            raise ValueError(f"MLP1D expects a (B, C, L) tensor, got shape {tuple(x.shape)}")
        return super().forward(x)
