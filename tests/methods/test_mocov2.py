"""MoCo v2 (METHODS.md §3.2): head, loss, key encoder updated before the keys, queue advance."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.config import resolve
from sslkit.losses import infonce_queue
from sslkit.methods.mocov2 import MoCoV2
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps
from tests.methods._common import two_views as views


def make(**kwargs) -> MoCoV2:
    torch.manual_seed(0)
    options = {"proj_hidden_dim": 16, "proj_dim": 8, "queue_size": 32, "temperature": 0.1, "key_momentum": 0.9}
    return MoCoV2(smallcnn(1, 16, width=4), **{**options, **kwargs})


def test_head_has_no_bn_and_the_key_encoder_is_frozen() -> None:
    model = make()
    assert [type(m) for m in model.projector] == [nn.Linear, nn.ReLU, nn.Linear]
    assert all(not p.requires_grad for p in model.key_encoder.parameters())
    keys = set(model.state_dict())
    assert "queue.keys" in keys and any(k.startswith("key_encoder.") for k in keys)


def test_asymmetric_loss_is_infonce_of_query_1_against_key_2() -> None:
    model = make()
    batch = views()
    out = model(batch, 0.0)  # the key-encoder update at step 0 is the identity (copies are equal)
    x1, x2 = batch["standard"]
    expected = infonce_queue(model.query(x1), model.key(x2), model.queue.read(), 0.1)
    assert torch.allclose(out.loss, expected, atol=1e-5)
    out.loss.backward()
    assert all(p.grad is None for p in model.key_encoder.parameters())


def test_key_encoder_moves_before_the_keys_and_the_queue_advances() -> None:
    model = make(key_momentum=0.5)
    with torch.no_grad():
        model.projector[0].weight.add_(1.0)
    old_key_weight = model.key_encoder.copies[1][0].weight.clone()
    batch = views(8)
    model(batch, 0.0)
    assert torch.allclose(model.key_encoder.copies[1][0].weight,
                          0.5 * old_key_weight + 0.5 * model.projector[0].weight)
    before = model.queue.read().clone()
    model.after_step(0.1)
    assert int(model.queue.pointer) == 8 and not torch.equal(model.queue.read()[:8], before[:8])
    model(batch, 0.1)
    model.after_step(0.2)
    assert int(model.queue.pointer) == 16


def test_symmetric_enqueues_both_views_and_training_is_finite() -> None:
    model = make(symmetric=True)
    model(views(8), 0.0)
    model.after_step(0.1)
    assert int(model.queue.pointer) == 16
    for preset in ("paper", "quick"):
        assert resolve("mocov2", "digits", MoCoV2, preset=preset).method_options["queue_size"] == 4096
    losses = losses_over_steps(make(), lr=0.05, batch=8)
    assert all(torch.isfinite(torch.tensor(losses)))
