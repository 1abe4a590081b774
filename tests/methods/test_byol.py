"""BYOL (METHODS.md §3.3): architecture, summed loss, stop-gradient into the EMA target, EMA update."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.config import resolve
from sslkit.losses import normalized_mse
from sslkit.methods.byol import BYOL
from sslkit.models.ema import cosine_tau
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps
from tests.methods._common import two_views as views


def make(**kwargs) -> BYOL:
    torch.manual_seed(0)
    return BYOL(smallcnn(1, 16, width=4), **{"proj_hidden_dim": 16, "proj_dim": 8, "pred_hidden_dim": 16, **kwargs})


def test_heads_follow_the_paper_and_the_target_is_frozen() -> None:
    model = make()
    assert [type(m) for m in model.projector] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert [type(m) for m in model.predictor] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert all(not p.requires_grad for p in model.target.parameters())
    trainable = {id(p) for g in model.param_groups() for p in g["params"]}
    assert not trainable & {id(p) for p in model.target.parameters()}
    assert any(k.startswith("target.") for k in model.state_dict())  # checkpointed for exact resume


def test_loss_is_the_sum_of_both_directions() -> None:
    model = make()
    batch = views()
    out = model(batch, 0.0)
    x1, x2 = batch["standard"]
    # recompute by hand from the modules (train-mode BN: the same batches give the same statistics)
    p1 = model.predictor(model.projector(model.backbone(x1)))
    p2 = model.predictor(model.projector(model.backbone(x2)))
    with torch.no_grad():
        t1, t2 = model.target(x1), model.target(x2)
    expected = normalized_mse(p1, t2) + normalized_mse(p2, t1)
    assert torch.allclose(out.loss, expected, atol=1e-5)


def test_no_gradient_reaches_the_target() -> None:
    model = make()
    model(views(), 0.0).loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert all(p.grad is not None for p in model.predictor.parameters())


def test_after_step_moves_the_target_with_the_scheduled_tau() -> None:
    model = make(tau_base=0.9)
    with torch.no_grad():
        for p in model.projector.parameters():
            p.add_(1.0)
    target = model.target.copies[1][0].weight.clone()
    online = model.projector[0].weight.clone()
    model.after_step(0.5)
    tau = cosine_tau(0.9, 0.5)
    assert torch.allclose(model.target.copies[1][0].weight, tau * target + (1 - tau) * online)


def test_presets_resolve_and_a_few_steps_lower_the_loss() -> None:
    for preset in ("paper", "quick"):
        assert resolve("byol", "digits", BYOL, preset=preset).method_options["tau_base"] == 0.99
    losses = losses_over_steps(make(), lr=0.05)
    assert losses[-1] < losses[0]
