"""Batch normalisation over the global batch of all processes (``--sync-bn``), on CPU as on GPU.

``torch.nn.SyncBatchNorm`` only runs on GPUs; :class:`GlobalBatchNorm` computes the same statistics
with two differentiable all-reduces (the global mean, then the global biased variance), so W
processes with B images each normalise exactly as one process with W x B images would, including
the running statistics. Parameter and buffer names are those of ``nn.BatchNorm*d``: checkpoints and
exports do not change. :func:`convert_to_global_batchnorm` converts the layers in place.
"""

from __future__ import annotations

import torch
from torch import nn

from sslkit import distributed


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """``BatchNorm1d/2d/3d`` whose training statistics are those of the batch over every process."""

    def _check_input_dim(self, input: torch.Tensor) -> None:  # noqa: A002 - nn.BatchNorm's name
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training or distributed.world_size() == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor(float(x.numel() // x.shape[1]), device=x.device)
        total = distributed.all_reduce(count.detach())
        xf = x.float()
        mean = distributed.all_reduce(xf.sum(dims)) / total
        centred = xf - mean.view(shape)
        var = distributed.all_reduce(centred.pow(2).sum(dims)) / total  # biased, as BN normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach().to(self.running_mean.dtype))
                unbiased = var.detach() * total / (total - 1).clamp(min=1)
                self.running_var.mul_(1 - m).add_(m * unbiased.to(self.running_var.dtype))
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)


def convert_to_global_batchnorm(module: nn.Module) -> nn.Module:
    """Make every ``nn.BatchNorm1d/2d/3d`` in ``module`` a :class:`GlobalBatchNorm`, in place.

    The layers keep their parameter and buffer objects (only their class changes), so optimisers,
    EMA teachers and anything else holding references to them stay valid.
    """
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and not isinstance(layer, GlobalBatchNorm):
            layer.__class__ = GlobalBatchNorm
    return module
