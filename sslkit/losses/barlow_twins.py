"""Barlow Twins' redundancy-reduction loss on the cross-correlation of two views (METHODS.md §3.5)."""

from __future__ import annotations

import torch

from sslkit import distributed

BN_EPS = 1e-5  # nn.BatchNorm1d's default eps, as in the official BN(affine=False)


def batch_standardise(z: torch.Tensor, eps: float = BN_EPS) -> torch.Tensor:
    """``BatchNorm1d(affine=False)`` in training mode: per-dimension mean 0, std 1 over the batch.

    Args:
        z: ``(B, D)`` embeddings.
        eps: Added to the biased variance, as BatchNorm does.

    Returns:
        ``(z - mean) / sqrt(var + eps)`` with the biased (1/B) variance, shape ``(B, D)``.
    """
    mean = z.mean(dim=0, keepdim=True)  # 1xD
    var = z.var(dim=0, unbiased=False, keepdim=True)  # 1xD, biased as BatchNorm1d in training
    return (z - mean) / torch.sqrt(var + eps)


def barlow_twins(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 0.0051) -> torch.Tensor:
    """Barlow Twins loss (Zbontar et al., ICML 2021, §2 eq. 1; METHODS.md §3.5).

    Each view's projections are batch-standardised, ``C = BN(z1)^T BN(z2) / B`` is their ``D x D``
    cross-correlation, and::

        L = sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2

    The invariance term pulls the diagonal to 1, the redundancy-reduction term pushes the
    off-diagonal to 0. The loss is symmetric in its inputs (``C`` transposes) and gradients flow into
    both. With several processes the embeddings of every process are gathered (with gradients), so the
    statistics and ``C`` are those of the global batch, as in the official code. solo-learn's
    ``scale_loss`` multiplies the result; that belongs to the method. Computed in float32
    with autocast off: ``C`` sums B products per entry and bf16 would blur ``1 - C_ii``.

    Args:
        z1: ``(B, D)`` projections of the first views (B >= 2: the variance needs two samples).
        z2: ``(B, D)`` projections of the second views.
        lambd: Weight of the off-diagonal term (paper: 0.0051, tuned for D = 8192).

    Returns:
        A non-negative scalar; 0 when ``C`` is the identity.

    Raises:
        ValueError: The inputs are not two ``(B, D)`` tensors of one shape with ``B >= 2``.
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ValueError(f"barlow_twins expects two (B, D) tensors of the same shape with B >= 2, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    with torch.autocast(z1.device.type, enabled=False):
        z1, z2 = distributed.gather(z1.float()), distributed.gather(z2.float())  # the global batch, NxD
        c = batch_standardise(z1).T @ batch_standardise(z2) / z1.shape[0]  # DxD
        diagonal = torch.diagonal(c)  # D
        on_diag = (1 - diagonal).pow(2).sum()
        off_diag = c.pow(2).sum() - diagonal.pow(2).sum()
        return on_diag + lambd * off_diag
