"""One MLP builder for every projector and predictor (moco-v3's ``_build_mlp``, generalised).

Hidden layers are ``Linear -> BN -> ReLU``; the last ``Linear`` is optionally followed by a BN
whose affine parameters can be switched off. Examples (METHODS.md §3.4, SimSiam)::

    projector = mlp(512, 2048, 2048, num_layers=2, last_bn=True, last_bn_affine=False)
    predictor = mlp(2048, 512, 2048, num_layers=2)  # Linear(no bias) -> BN -> ReLU -> Linear
"""

from __future__ import annotations

from torch import nn


def mlp(
    in_dim: int,
    hidden_dim: int,
    out_dim: int,
    num_layers: int = 2,
    *,
    hidden_bn: bool = True,
    last_bn: bool = False,
    last_bn_affine: bool = True,
    bias: bool | None = None,
) -> nn.Sequential:
    """Build an MLP head.

    Args:
        in_dim: Input features.
        hidden_dim: Width of the hidden layers.
        out_dim: Output features.
        num_layers: Number of ``Linear`` layers (>= 1).
        hidden_bn: Put a ``BatchNorm1d`` after every hidden ``Linear``.
        last_bn: Put a ``BatchNorm1d`` after the last ``Linear`` (SimSiam/MoCo-v3 projectors).
        last_bn_affine: Whether that last BN has learnable scale and shift (SimSiam: ``False``).
        bias: Bias of the ``Linear`` layers. ``None`` (default): only where no BN follows, since a
            BN cancels the bias (SimSiam's ``Linear(..., bias=False) -> BN``).

    Returns:
        The head as an ``nn.Sequential``.
    """
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    layers: list[nn.Module] = []
    for i in range(num_layers):
        last = i == num_layers - 1
        dim_in = in_dim if i == 0 else hidden_dim
        dim_out = out_dim if last else hidden_dim
        has_bn = last_bn if last else hidden_bn
        layers.append(nn.Linear(dim_in, dim_out, bias=(not has_bn) if bias is None else bias))
        if has_bn:
            layers.append(nn.BatchNorm1d(dim_out, affine=last_bn_affine if last else True))
        if not last:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
