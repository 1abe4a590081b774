"""NT-Xent, SimCLR's normalised-temperature cross-entropy over a batch of 2B views (METHODS.md §3.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslkit import distributed


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent of SimCLR (Chen et al., ICML 2020, §2.1 eq. 1; METHODS.md §3.1).

    The 2B embeddings are L2-normalised; anchor ``i`` has its partner view ``j(i)`` (the same image's
    other view) as positive and the other 2B - 2 embeddings as negatives::

        l_i = -log[ exp(z_i . z_j(i) / T) / sum_{k != i} exp(z_i . z_k / T) ]

    and the loss is the mean of ``l_i`` over all 2B anchors (the solo-learn / CC convention). The
    official TF code sums the two directional means (``loss_a + loss_b``), which is **2x** this
    value; the difference only rescales the learning rate. Gradients flow into both inputs.

    With several processes (DDP), each process's anchors see the embeddings of every process as
    candidates (:func:`sslkit.distributed.gather`, which keeps gradients): the averaged gradient is that
    of one process with the whole batch.

    The similarities are computed in float32 with autocast off: at T = 0.1 the logits reach 10 and a
    bf16 softmax over thousands of negatives loses the positive's precision.

    Args:
        z1: ``(B, D)`` projections of the first views.
        z2: ``(B, D)`` projections of the second views; row ``i`` is the partner of ``z1[i]``.
        temperature: ``T`` (CIFAR-10 official README: 0.5; ImageNet: 0.1; solo-learn CIFAR: 0.2).

    Returns:
        A non-negative scalar. When the two views coincide and the B samples are orthogonal it equals
        ``log(1 + (2B - 2) exp(-1 / T))``, which tends to its lower bound 0 as ``T -> 0``.

    Raises:
        ValueError: The inputs are not two ``(B, D)`` tensors of one shape, or ``T <= 0``.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"nt_xent expects two (B, D) tensors of the same shape, got {tuple(z1.shape)} and "
                         f"{tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    batch = z1.shape[0]
    with torch.autocast(z1.device.type, enabled=False):
        anchors = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # 2BxD, this process's
        z1_all, z2_all = distributed.gather(anchors[:batch]), distributed.gather(anchors[batch:])  # NxD each
        candidates = torch.cat([z1_all, z2_all])  # 2NxD, N = B x processes
        logits = anchors @ candidates.T / temperature  # 2Bx2N
        n, offset = len(z1_all), distributed.rank() * batch
        index = torch.arange(batch, device=anchors.device) + offset  # the anchors' rows in the global batch
        own = torch.cat([index, index + n])  # k = i
        logits[torch.arange(2 * batch, device=anchors.device), own] = float("-inf")  # k != i
        positive = torch.cat([index + n, index])  # j(i): view 1 row i <-> view 2 row i
        return F.cross_entropy(logits, positive)  # mean over this process's 2B anchors
