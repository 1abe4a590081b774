"""relation (ReSSL, METHODS.md §6.1) against a loop reference, the §9.1 entropy identity, gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslkit.losses import relation


def reference(z_s, z_t, queue, tau_s, tau_t):
    """``-(1/B) sum_b sum_k a_t[b,k] log a_s[b,k]`` written out with Python loops."""
    total = 0.0
    for s, t in zip(F.normalize(z_s, dim=1), F.normalize(z_t, dim=1), strict=True):
        logits_s = [float(s @ q) / tau_s for q in queue]
        logits_t = [float(t @ q) / tau_t for q in queue]
        log_norm_s = math.log(sum(math.exp(v) for v in logits_s))
        norm_t = sum(math.exp(v) for v in logits_t)
        total -= sum(math.exp(lt) / norm_t * (ls - log_norm_s) for ls, lt in zip(logits_s, logits_t, strict=True))
    return total / len(z_s)


def inputs(batch: int = 5, dim: int = 4, size: int = 9):
    g = torch.Generator().manual_seed(0)
    z_s, z_t = torch.randn(batch, dim, generator=g), torch.randn(batch, dim, generator=g)
    return z_s, z_t, F.normalize(torch.randn(size, dim, generator=g), dim=1)


def test_matches_the_loop_reference() -> None:
    z_s, z_t, queue = inputs()
    for tau_s, tau_t in ((0.1, 0.04), (0.2, 0.2), (1.0, 0.5)):
        assert math.isclose(relation(z_s, z_t, queue, tau_s, tau_t).item(),
                            reference(z_s, z_t, queue, tau_s, tau_t), rel_tol=1e-5)


def test_equal_temperatures_and_embeddings_give_the_entropy_of_a_s() -> None:
    """METHODS.md §9.1: teacher == student and tau_t == tau_s -> the loss is H(a_s)."""
    z, _, queue = inputs()
    a_s = F.softmax(F.normalize(z, dim=1) @ queue.T / 0.1, dim=1)
    entropy = -(a_s * a_s.log()).sum(dim=1).mean()
    assert torch.allclose(relation(z, z, queue, 0.1, 0.1), entropy, atol=1e-6)
    # a sharper teacher (tau_t < tau_s) is a different target, so the identity no longer holds
    assert not torch.allclose(relation(z, z, queue, 0.1, 0.04), entropy, atol=1e-3)


def test_gradient_only_into_the_student() -> None:
    z_s, z_t, queue = inputs()
    z_s.requires_grad_()
    z_t.requires_grad_()
    queue.requires_grad_()
    relation(z_s, z_t, queue).backward()
    assert z_s.grad is not None and torch.isfinite(z_s.grad).all()
    assert z_t.grad is None and queue.grad is None


def test_float32_under_bf16_autocast() -> None:
    z_s, z_t, queue = inputs(size=64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = relation(z_s.bfloat16(), z_t.bfloat16(), queue)
    assert loss.dtype == torch.float32
    expected = relation(z_s.bfloat16().float(), z_t.bfloat16().float(), queue)
    assert torch.allclose(loss, expected, atol=1e-6)


def test_bad_inputs_raise() -> None:
    z_s, z_t, queue = inputs()
    with pytest.raises(ValueError, match="temperatures"):
        relation(z_s, z_t, queue, tau_s=0.0)
    with pytest.raises(ValueError, match="queue"):
        relation(z_s, z_t, queue[:, :3])
