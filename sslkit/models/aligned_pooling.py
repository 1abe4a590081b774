"""LEWEL's spatial alignment maps and multi-head aligned pooling (METHODS.md §8.1 steps 4-5).

The projector's per-pixel logits ``M`` (``B x D x N``) become ``D`` spatial maps: each pixel's
logit vector is L2-normalised over the ``D`` channels, divided by ``scale``, and every channel is
softmaxed over the ``N`` positions, so each map is a distribution over the image. The maps then
re-pool the backbone features ``X`` (``B x C x N``) with ``H`` heads: head ``h`` owns the channel
group ``X_h`` (``C/H`` channels) and the maps ``A_h`` (``K = D/H`` of them), and
``Y_h = X_h A_h^T``. Aligned embedding ``k`` is the concatenation over heads of ``X_h`` pooled by
map ``(h, k)``: ``Y[:, h C/H + c, k] = sum_n X[:, h C/H + c, n] A[:, h K + k, n]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def alignment_maps(logits: torch.Tensor, scale: float = 1.0, l2norm: bool = True) -> torch.Tensor:
    """Turn per-pixel logits ``(B, D, N)`` into ``D`` maps per image, each summing to 1 over ``N``.

    Args:
        logits: ``(B, D, N)`` projector outputs at the ``N`` pixel positions.
        scale: Temperature dividing the (normalised) logits before the softmax (LEWEL: 1.0).
        l2norm: L2-normalise each pixel's logits over the ``D`` channels first (LEWEL: on).

    Returns:
        ``(B, D, N)`` non-negative maps.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if l2norm:
        logits = F.normalize(logits, dim=1)  # per pixel, over the D channels
    return torch.softmax(logits / scale, dim=2)  # per channel, over the N positions


def aligned_pooling(
    features: torch.Tensor,
    logits: torch.Tensor,
    num_heads: int,
    scale: float = 1.0,
    l2norm: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool backbone features with the alignment maps of the logits, one channel group per head.

    Args:
        features: ``(B, C, N)`` flattened backbone feature map ``X``.
        logits: ``(B, D, N)`` per-pixel projector outputs ``M``.
        num_heads: ``H``; must divide both ``C`` and ``D`` (LEWEL scripts: 4).
        scale: Softmax temperature of the maps (LEWEL: 1.0).
        l2norm: L2-normalise the logits over channels before the softmax (LEWEL: on).

    Returns:
        ``(maps, pooled)``: the maps ``A`` of shape ``(B, D, N)`` and the aligned embeddings ``Y`` of
        shape ``(B, C, K)`` with ``K = D / H``.
    """
    if features.ndim != 3 or logits.ndim != 3:
        raise ValueError(f"features and logits must be (B, C, N) and (B, D, N), got {tuple(features.shape)} "
                         f"and {tuple(logits.shape)}")
    (b, c, n), d = features.shape, logits.shape[1]
    if logits.shape[0] != b or logits.shape[2] != n:
        raise ValueError(f"features {tuple(features.shape)} and logits {tuple(logits.shape)} disagree on B or N")
    if num_heads < 1 or c % num_heads or d % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide the feature channels ({c}) and the projection "
                         f"dim ({d}); choose a divisor of both")
    maps = alignment_maps(logits, scale, l2norm)  # BxDxN
    heads_a = maps.view(b, num_heads, d // num_heads, n)  # BxHxKxN
    heads_x = features.reshape(b, num_heads, c // num_heads, n)  # BxHx(C/H)xN
    pooled = torch.matmul(heads_x, heads_a.transpose(2, 3))  # BxHx(C/H)xK
    return maps, pooled.reshape(b, c, d // num_heads)  # BxDxN, BxCxK
