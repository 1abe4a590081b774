"""infonce_queue against a plain reference (METHODS.md §3.2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sslkit.losses import infonce_queue


def reference(q, k, queue, t):
    total = 0.0
    for qi, ki in zip(F.normalize(q, dim=1), F.normalize(k, dim=1), strict=True):
        logits = [float(qi @ ki) / t] + [float(qi @ n) / t for n in queue]
        total += -logits[0] + math.log(sum(math.exp(v) for v in logits))
    return total / len(q)


def test_matches_the_reference() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    queue = F.normalize(torch.randn(7, 4, generator=g), dim=1)
    assert math.isclose(infonce_queue(q, k, queue, 0.2).item(), reference(q, k, queue, 0.2), rel_tol=1e-5)


def test_gradient_only_into_the_queries() -> None:
    q = torch.randn(3, 4, requires_grad=True)
    k = torch.randn(3, 4, requires_grad=True)
    queue = F.normalize(torch.randn(6, 4), dim=1).requires_grad_()
    infonce_queue(q, k, queue, 0.1).backward()
    assert q.grad is not None and k.grad is None and queue.grad is None
