"""RSA over BYOL (METHODS.md §5): heads, schedules, the composite loss, stop-gradients, EMA timing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.losses import normalized_mse
from sslkit.methods.rsa import RSABYOL, rsa_beta
from sslkit.models.ema import cosine_tau
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps


def make(**kwargs) -> RSABYOL:
    torch.manual_seed(0)
    options = {"proj_hidden_dim": 16, "proj_dim": 8, "pred_hidden_dim": 16, **kwargs}
    return RSABYOL(smallcnn(1, 16, width=4), **options)


def rsa_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    """Two weak 16-px views and two aggressive views derived from them (same crop, other intensities)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    w1, w2 = x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)
    return {"weak": [w1, w2], "aggressive": [1.3 * w1 + 0.2, 0.7 * w2 - 0.1 * torch.randn(x.shape, generator=g)]}


def reference_loss(u1, u2, w1, w2, beta: float) -> torch.Tensor:
    """§5.1 step 7 written per sample: ``l(a, b) = 2 - 2 <n(a), n(b)>``, then the batch mean."""
    def dist(a, b):
        return 2 - 2 * (F.normalize(a, dim=0) * F.normalize(b, dim=0)).sum()

    total = 0.0
    for i in range(len(u1)):
        total = total + beta * (dist(u1[i], u2[i].detach()) + dist(u2[i], u1[i].detach())) \
            + (1 - beta) * (dist(u1[i], w2[i]) + dist(u2[i], w1[i]))
    return total / len(u1)


def test_heads_follow_the_paper_and_the_target_is_frozen() -> None:
    model = make()
    for head in (model.projector, model.predictor):
        assert [type(m) for m in head] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
        assert head[-1].bias is None  # Linear(1024, 128, no bias), §5.2
    assert len(model.target.copies) == 2  # backbone + projector, not the predictor
    assert all(not p.requires_grad for p in model.target.parameters())
    trainable = {id(p) for g in model.param_groups() for p in g["params"]}
    assert not trainable & {id(p) for p in model.target.parameters()}
    assert [(v.role, v.count, v.derived_from) for v in RSABYOL.views] == [("weak", 2, None),
                                                                          ("aggressive", 2, "weak")]
    with pytest.raises(ValueError, match="beta_base"):
        make(beta_base=1.5)


def test_schedules_at_start_middle_and_end() -> None:
    assert rsa_beta(0.4, 0.0) == pytest.approx(0.4)
    assert rsa_beta(0.4, 0.5) == pytest.approx(0.2)
    assert rsa_beta(0.4, 1.0) == pytest.approx(0.0)
    assert cosine_tau(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_tau(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_tau(0.99, 1.0) == pytest.approx(1.0)


def test_loss_matches_the_reference_and_the_schedules_follow_progress() -> None:
    model = make(beta_base=0.4)
    batch = rsa_views()
    out = model(batch, 0.5)
    assert out.logs["beta"] == pytest.approx(0.2) and out.logs["tau"] == pytest.approx(cosine_tau(0.99, 0.5))
    # no optimizer step was taken, so the target still equals the online network; recompute by hand
    (w1, w2), (a1, a2) = batch["weak"], batch["aggressive"]
    u1, u2 = model.online(a1), model.online(a2)
    z1, z2 = model.target_projection(w1), model.target_projection(w2)
    assert torch.allclose(out.loss, reference_loss(u1, u2, z1, z2, 0.2), atol=1e-5)
    assert torch.allclose(out.embeddings, z1)  # the collapse monitor reads the target's projection, as BYOL


def test_no_gradient_through_the_aggressive_target_nor_into_the_ema() -> None:
    model = make(beta_base=1.0)  # beta = 1 at t = 0: only the aggressive-aggressive pairs
    batch = rsa_views()
    for w in batch["weak"]:
        w.requires_grad_()
    model(batch, 0.0).loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert all(w.grad is None for w in batch["weak"])
    got = [p.grad.clone() for p in model.backbone.parameters()]

    def backbone_grads(loss: torch.Tensor) -> list[torch.Tensor]:
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.backbone.parameters()]

    a1, a2 = batch["aggressive"]
    u1, u2 = model.online(a1), model.online(a2)
    detached = backbone_grads(normalized_mse(u1, u2.detach()) + normalized_mse(u2, u1.detach()))
    u1, u2 = model.online(a1), model.online(a2)
    through = backbone_grads((2 - 2 * F.cosine_similarity(u1, u2)).mean() * 2)  # no stop-gradient
    assert all(torch.allclose(g, d, atol=1e-6) for g, d in zip(got, detached, strict=True))
    assert not all(torch.allclose(g, t, atol=1e-6) for g, t in zip(got, through, strict=True))


def test_the_target_moves_before_the_loss_is_computed() -> None:
    model = make(tau_base=0.5)  # tau = 0.5 at t = 0
    with torch.no_grad():
        for p in model.projector.parameters():
            p.add_(0.5)
    old = model.target.copies[1][0].weight.clone()
    batch = rsa_views()
    stale = [model.target_projection(w) for w in batch["weak"]]
    out = model(batch, 0.0)
    assert torch.allclose(model.target.copies[1][0].weight, 0.5 * old + 0.5 * model.projector[0].weight)
    (w1, w2), (a1, a2) = batch["weak"], batch["aggressive"]
    u1, u2 = model.online(a1), model.online(a2)
    z1, z2 = model.target_projection(w1), model.target_projection(w2)
    assert torch.allclose(out.loss, reference_loss(u1, u2, z1, z2, 0.4), atol=1e-5)
    assert not torch.allclose(out.loss, reference_loss(u1, u2, *stale, 0.4), atol=1e-3)
    model.after_step(0.1)  # after_step itself leaves the target alone
    assert torch.allclose(model.target.copies[1][0].weight, 0.5 * old + 0.5 * model.projector[0].weight)


def test_presets_resolve_and_a_few_steps_lower_the_loss() -> None:
    for preset in ("paper", "quick"):
        cfg = resolve("rsa-byol", "digits", RSABYOL, preset=preset)
        assert cfg.method_options["tau_base"] == 0.99 and cfg.method_options["beta_base"] == 0.4
        assert "standard" not in cfg.aug
    assert resolve("rsa-byol", "cifar10", RSABYOL).backbone_options == {"zero_init_residual": True}
    losses = losses_over_steps(make(), lr=0.05, views=rsa_views(16))
    assert losses[-1] < losses[0]
