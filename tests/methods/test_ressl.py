"""ReSSL (METHODS.md §6): head, relation loss, teacher updated first, memory enqueued after the step,
the journal's InfoNCE warm-up and predictor options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.losses import infonce_queue, relation
from sslkit.methods.ressl import ReSSL
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps


def make(**kwargs) -> ReSSL:
    torch.manual_seed(0)
    options = {"proj_hidden_dim": 16, "proj_dim": 8, "queue_size": 32, "teacher_momentum": 0.9, **kwargs}
    return ReSSL(smallcnn(1, 16, width=4), **options)


def ressl_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    """A strong student view and a weak teacher view of one random 16-px batch."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return {"student": [1.3 * x.flip(-1) + 0.2 * torch.randn(x.shape, generator=g)], "teacher": [x]}


def test_head_has_no_bn_and_the_teacher_and_memory_are_frozen_state() -> None:
    model = make()
    assert [type(m) for m in model.projector] == [nn.Linear, nn.ReLU, nn.Linear]
    assert isinstance(model.predictor, nn.Identity)
    assert [type(m) for m in make(predictor=True).predictor] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert len(model.teacher.copies) == 2 and all(not p.requires_grad for p in model.teacher.parameters())
    trainable = {id(p) for g in model.param_groups() for p in g["params"]}
    assert not trainable & {id(p) for p in model.teacher.parameters()}
    keys = set(model.state_dict())
    assert "queue.keys" in keys and any(k.startswith("teacher.") for k in keys)
    for bad in ({"tau_t": 0.0}, {"teacher_momentum": 1.5}, {"infonce_warmup": 2.0}):
        with pytest.raises(ValueError):
            make(**bad)


def test_loss_is_the_relation_loss_and_no_gradient_reaches_teacher_or_memory() -> None:
    model = make()
    batch = ressl_views()
    out = model(batch, 0.0)  # at step 0 the momentum update is the identity (the copies are equal)
    z_s, z_t = model.student(batch["student"][0]), model.teacher_embedding(batch["teacher"][0])
    assert torch.allclose(out.loss, relation(z_s, z_t, model.queue.read(), 0.1, 0.04), atol=1e-6)
    out.loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert not model.queue.keys.requires_grad and model.queue.keys.grad is None
    assert all(p.grad is not None for p in model.projector.parameters())


def test_equal_temperatures_and_teacher_equal_to_student_give_the_entropy() -> None:
    """METHODS.md §9.1 through the method: one view for both roles, the teacher still the student's copy."""
    model = make(tau_s=0.2, tau_t=0.2)
    x = ressl_views()["teacher"][0]
    out = model({"student": [x], "teacher": [x]}, 0.0)
    a_s = F.softmax(model.student(x) @ model.queue.read().T / 0.2, dim=1)
    assert torch.allclose(out.loss, -(a_s * a_s.log()).sum(dim=1).mean(), atol=1e-5)


def test_teacher_moves_before_the_teacher_pass_and_the_memory_after_the_step() -> None:
    model = make(teacher_momentum=0.5)
    with torch.no_grad():
        model.projector[0].weight.add_(0.5)
    old = model.teacher.copies[1][0].weight.clone()
    batch = ressl_views(8)
    before = model.queue.read().clone()
    out = model(batch, 0.0)
    assert torch.allclose(model.teacher.copies[1][0].weight, 0.5 * old + 0.5 * model.projector[0].weight)
    z_t = model.teacher_embedding(batch["teacher"][0])  # the moved teacher (train-mode BN: same batch stats)
    z_s = model.student(batch["student"][0])
    assert torch.allclose(out.loss, relation(z_s, z_t, before, 0.1, 0.04), atol=1e-6)
    assert torch.equal(model.queue.read(), before)  # nothing enqueued during the forward
    model.after_step(0.1)
    assert int(model.queue.pointer) == 8
    assert torch.allclose(model.queue.read()[:8], z_t, atol=1e-6) and torch.equal(model.queue.read()[8:], before[8:])


def test_infonce_warmup_switches_to_the_relation_loss() -> None:
    model = make(infonce_warmup=0.5)
    batch = ressl_views()
    z_s, z_t = model.student(batch["student"][0]), model.teacher_embedding(batch["teacher"][0])
    queue = model.queue.read()
    early, late = model(batch, 0.2), model(batch, 0.5)  # no step between: the teacher stays equal
    assert early.logs["infonce"] == 1.0 and late.logs["infonce"] == 0.0
    assert torch.allclose(early.loss, infonce_queue(z_s, z_t, queue, 0.1), atol=1e-6)
    assert torch.allclose(late.loss, relation(z_s, z_t, queue, 0.1, 0.04), atol=1e-6)
    assert "infonce" not in make()(batch, 0.2).logs


def test_presets_resolve_and_a_few_steps_lower_the_loss() -> None:
    for preset in ("paper", "quick"):
        cfg = resolve("ressl", "digits", ReSSL, preset=preset)
        assert cfg.method_options["queue_size"] == 4096 and cfg.method_options["teacher_momentum"] == 0.99
        assert "standard" not in cfg.aug
    for predictor in (False, True):
        losses = losses_over_steps(make(predictor=predictor), lr=0.05, steps=10, views=ressl_views(8))
        assert losses[-1] < losses[0]


def test_multi_crop_declares_five_student_crops_of_the_released_sizes() -> None:
    from sslkit.engine.views import ViewMaker
    from sslkit.methods.ressl import ReSSLMultiCrop

    maker = ViewMaker(ReSSLMultiCrop.views, 32, 1, (0.5,), (0.25,))
    views = maker(torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert [v.shape[-1] for v in views["student"]] == [32, 27, 23, 18, 14]  # 224..96 px of 224, at 32 px
    assert [v.shape[-1] for v in views["teacher"]] == [32]
    assert [p.ops[0].scale for p in maker.policies["student"]][-1] == pytest.approx((0.086, 0.429))


def test_multi_crop_loss_is_the_mean_over_crops_of_the_relation_loss() -> None:
    from sslkit.methods.ressl import ReSSLMultiCrop

    torch.manual_seed(0)
    model = ReSSLMultiCrop(smallcnn(1, 16, width=4), proj_hidden_dim=16, proj_dim=8, queue_size=32)
    g = torch.Generator().manual_seed(2)
    crops = [torch.randn(8, 1, side, side, generator=g) for side in (16, 14, 12, 10, 8)]
    out = model({"student": crops, "teacher": [torch.randn(8, 1, 16, 16, generator=g)]}, 0.0)
    z_t = model._keys
    expected = sum(relation(model.student(x), z_t, model.queue.read(), 0.1, 0.04) for x in crops) / 5
    assert torch.allclose(out.loss, expected, atol=1e-5)
