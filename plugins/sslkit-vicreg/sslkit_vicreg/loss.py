"""VICReg's variance-invariance-covariance loss (Bardes, Ponce and LeCun, ICLR 2022, §3, eq. 1-6).

A pure function of two ``(B, D)`` embedding batches, like every loss in ``sslkit.losses``, so other
methods and plugins can compose it. The averaging follows the released code
(``facebookresearch/vicreg``, ``main_vicreg.py``), which differs from the paper's eq. 6 in one place:
the variance terms of the two branches are *averaged*, not summed.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class VICRegTerms(NamedTuple):
    """The weighted total and its three unweighted terms (the terms are for logging).

    Attributes:
        loss: ``sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance``.
        invariance: ``s(Z, Z')``, the mean squared error between the two branches.
        variance: ``(v(Z) + v(Z')) / 2``, the hinge on the per-dimension standard deviation.
        covariance: ``c(Z) + c(Z')``, the squared off-diagonal covariances divided by ``D``.
    """

    loss: torch.Tensor
    invariance: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor


def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """``v(Z) = mean_j relu(1 - sqrt(Var(z_j) + eps))`` (paper eq. 1; target std ``gamma = 1``).

    ``Var`` is the unbiased (``1 / (B - 1)``) variance over the batch, as ``torch.var`` in the
    released code. 0 when every dimension has a standard deviation of at least 1.
    """
    std = torch.sqrt(z.var(dim=0) + eps)  # D
    return F.relu(1.0 - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """``c(Z) = sum_{i != j} C(Z)_ij^2 / D`` with ``C(Z) = (Z - mean)^T (Z - mean) / (B - 1)`` (eq. 3-4).

    0 when the dimensions are decorrelated over the batch.
    """
    batch, dim = z.shape
    centred = z - z.mean(dim=0)  # BxD
    cov = centred.T @ centred / (batch - 1)  # DxD
    off_diagonal = cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()
    return off_diagonal / dim


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
) -> VICRegTerms:
    """VICReg loss of two branches of expander outputs (paper §3; official ``main_vicreg.py``).

    ::

        L = sim_coeff * MSE(Z, Z')
          + std_coeff * (v(Z) + v(Z')) / 2
          + cov_coeff * (c(Z) + c(Z'))

    with ``v`` and ``c`` as in :func:`variance_term` and :func:`covariance_term`. Symmetric in its
    inputs; gradients flow into both unless the caller detaches one (a DSSL-style composition
    detaches its target: then only the online branch's variance and covariance are trained). Computed
    in float32 with autocast off: the covariance sums ``B`` products per entry and the hinge compares
    a standard deviation with 1, both of which bf16 would blur. Statistics are those of the local
    batch; the official multi-GPU code gathers the embeddings of every GPU first.

    Args:
        z1: ``(B, D)`` embeddings of the first views (``B >= 2``: the variance needs two samples).
        z2: ``(B, D)`` embeddings of the second views.
        sim_coeff: ``lambda``, weight of the invariance term (paper: 25).
        std_coeff: ``mu``, weight of the variance term (paper: 25).
        cov_coeff: ``nu``, weight of the covariance term (paper: 1).
        eps: Added to the variance before the square root, for stability (paper: 1e-4).

    Returns:
        :class:`VICRegTerms`: the weighted total and the three unweighted terms.

    Raises:
        ValueError: The inputs are not two ``(B, D)`` tensors of one shape with ``B >= 2``.
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ValueError(f"vicreg_loss expects two (B, D) tensors of the same shape with B >= 2, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    with torch.autocast(z1.device.type, enabled=False):
        z1, z2 = z1.float(), z2.float()
        invariance = F.mse_loss(z1, z2)
        variance = 0.5 * (variance_term(z1, eps) + variance_term(z2, eps))
        covariance = covariance_term(z1) + covariance_term(z2)
        loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
        return VICRegTerms(loss, invariance, variance, covariance)
