"""ReSSL's relation loss: match the student's similarity distribution over a memory to the teacher's
sharper one (METHODS.md §6.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relation(
    z_s: torch.Tensor,
    z_t: torch.Tensor,
    queue: torch.Tensor,
    tau_s: float = 0.1,
    tau_t: float = 0.04,
) -> torch.Tensor:
    """Relational cross-entropy of ReSSL (Zheng et al., NeurIPS 2021; METHODS.md §6.1 steps 5-6).

    Both embeddings are compared with the ``K`` entries of a memory ``Q`` of past teacher
    embeddings; the teacher's distribution, sharpened by its lower temperature, is the soft target::

        a_s = softmax(z_s Q^T / tau_s)        a_t = softmax(z_t Q^T / tau_t)   (rows, B x K)
        L   = -(1/B) sum_b sum_k a_t[b, k] log a_s[b, k]

    This is ``KL(a_t || a_s)`` plus the (constant) entropy of ``a_t``. Unlike MoCo's InfoNCE there is
    no positive logit and the target is soft. With ``tau_t == tau_s`` and ``z_t == z_s`` the loss is
    the entropy of ``a_s`` (METHODS.md §9.1).

    The similarities are computed in float32 with autocast off: at ``tau_t = 0.04`` the logits reach
    25 and a bf16 softmax over thousands of memory entries loses the target's shape.

    Args:
        z_s: ``(B, D)`` student embeddings (L2-normalised here); gradients flow into them.
        z_t: ``(B, D)`` teacher embeddings (L2-normalised and detached here).
        queue: ``(K, D)`` memory of unit-norm teacher embeddings (detached here).
        tau_s: Student temperature (0.1 in every ReSSL recipe).
        tau_t: Teacher temperature, lower than ``tau_s`` (0.04 in every ReSSL recipe).

    Returns:
        The mean loss over the batch, a float32 scalar.

    Raises:
        ValueError: Mismatched shapes or a non-positive temperature.
    """
    if z_s.ndim != 2 or z_s.shape != z_t.shape or queue.ndim != 2 or queue.shape[1] != z_s.shape[1]:
        raise ValueError(f"relation expects z_s and z_t of one shape (B, D) and a (K, D) queue, got "
                         f"{tuple(z_s.shape)}, {tuple(z_t.shape)} and {tuple(queue.shape)}")
    if tau_s <= 0 or tau_t <= 0:
        raise ValueError(f"temperatures must be > 0, got tau_s={tau_s}, tau_t={tau_t}")
    with torch.autocast(z_s.device.type, enabled=False):
        memory = queue.detach().float()  # KxD
        student = F.normalize(z_s.float(), dim=1) @ memory.T / tau_s  # BxK
        with torch.no_grad():
            target = F.softmax(F.normalize(z_t.detach().float(), dim=1) @ memory.T / tau_t, dim=1)  # BxK
        return -(target * F.log_softmax(student, dim=1)).sum(dim=1).mean()
