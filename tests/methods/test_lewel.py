"""LEWEL on BYOL (METHODS.md §8.1): shared projector on [xbar, X], loss against a reference built
from the modules, stop-gradient into the EMA target, EMAN update at the pre-increment momentum."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.methods.lewel import LEWELBYOL
from sslkit.models.ema import cosine_tau
from sslkit.models.mlp1d import MLP1D
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps
from tests.methods._common import two_views as views


def make(**kwargs) -> LEWELBYOL:
    torch.manual_seed(0)
    return LEWELBYOL(smallcnn(1, 16, width=4), **{"proj_dim": 8, "hidden_dim": 16, "num_heads": 4, **kwargs})


def test_heads_are_mlp1d_and_the_target_copies_backbone_and_both_projectors() -> None:
    model = make()
    for head in (model.projector, model.aligned_projector, model.predictor, model.aligned_predictor):
        assert isinstance(head, MLP1D)
    assert len(model.target.copies) == 3  # f', g', g_a'
    assert all(not p.requires_grad for p in model.target.parameters())
    trainable = {id(p) for g in model.param_groups() for p in g["params"]}
    assert not trainable & {id(p) for p in model.target.parameters()}
    assert any(k.startswith("target.") for k in model.state_dict())  # checkpointed for exact resume


def test_projector_runs_once_on_pooled_and_pixel_features_together() -> None:
    model = make()
    calls: list[torch.Tensor] = []
    model.projector.register_forward_hook(lambda _m, args, _out: calls.append(args[0]))
    x = views()["standard"][0]
    z_g, aligned = model.encode(x)
    fmap = model.backbone.forward_features(x)  # 8 x 32 x 2 x 2 at 16 px
    b, c, n = fmap.shape[0], fmap.shape[1], fmap.shape[2] * fmap.shape[3]
    assert len(calls) == 1 and calls[0].shape == (b, c, 1 + n)  # one BN batch of B x (1 + N) positions
    assert torch.allclose(calls[0][:, :, 0], calls[0][:, :, 1:].mean(dim=2), atol=1e-6)
    assert z_g.shape == (b, 8) and aligned.shape == (b, 8, 2)  # K = proj_dim / num_heads


def _reference_encode(modules, x: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """§8.1 steps 2-6 written out: cat -> g -> split; normalise, softmax; pool per head with einsum."""
    backbone, projector, aligned_projector = modules
    feats = backbone.forward_features(x).flatten(2)
    z = projector(torch.cat([feats.mean(2, keepdim=True), feats], 2))
    z_g, logits = z[:, :, 0], z[:, :, 1:]
    maps = torch.softmax(logits / logits.norm(dim=1, keepdim=True), dim=2)  # scale 1
    b, c, n = feats.shape
    a = maps.reshape(b, heads, -1, n)
    y = torch.einsum("bhcn,bhkn->bhck", feats.reshape(b, heads, c // heads, n), a).reshape(b, c, -1)
    return z_g, aligned_projector(y)


def _l(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """2 - 2 cos over dim 1, averaged over every other index."""
    return (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()


def test_loss_matches_a_reference_recomputed_from_the_modules() -> None:
    model = make(alpha=0.3)
    batch = views()
    out = model(batch, 0.0)
    x1, x2 = batch["standard"]
    online = [model.backbone, model.projector, model.aligned_projector]
    # train-mode BN: the same batches give the same statistics; the EMAN target is in eval mode
    (zg1, o1), (zg2, o2) = _reference_encode(online, x1, 4), _reference_encode(online, x2, 4)
    with torch.no_grad():
        (tg1, to1), (tg2, to2) = (_reference_encode(model.target.copies, x, 4) for x in (x1, x2))
    pg1, pg2 = (model.predictor(z.unsqueeze(2)).squeeze(2) for z in (zg1, zg2))  # q on (B, D, 1)
    g = _l(pg1, tg2) + _l(pg2, tg1)
    a = _l(model.aligned_predictor(o1), to2) + _l(model.aligned_predictor(o2), to1)  # map k vs map k
    assert torch.allclose(out.logs["loss_global"], g, atol=1e-5)
    assert torch.allclose(out.logs["loss_aligned"], a, atol=1e-5)
    assert torch.allclose(out.loss, 0.3 * g + 0.7 * a, atol=1e-5)
    assert out.embeddings.shape == (8, 8)


def test_gradients_reach_every_online_module_and_never_the_target() -> None:
    model = make()
    model(views(), 0.0).loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    for module in (model.backbone, model.projector, model.aligned_projector, model.predictor, model.aligned_predictor):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_momentum_schedule_at_zero_half_and_end() -> None:
    model = make(tau_base=0.98)
    taus = [model(views(), t).logs["tau"] for t in (0.0, 0.5, 1.0)]
    assert taus == pytest.approx([0.98, 0.99, 1.0])


def test_eman_update_uses_the_pre_increment_momentum_and_averages_bn_buffers() -> None:
    model = make(tau_base=0.9)
    total, step = 10, 5
    model(views(), step / total)  # moves the online BN running statistics
    with torch.no_grad():
        for p in model.aligned_projector.parameters():
            p.add_(1.0)  # stands in for the optimizer step
    target_w, online_w = model.target.copies[2][0].weight.clone(), model.aligned_projector[0].weight.clone()
    target_rm, online_rm = model.target.copies[1][1].running_mean.clone(), model.projector[1].running_mean.clone()
    model.after_step((step + 1) / total)  # what the engine passes
    tau = cosine_tau(0.9, step / total)  # m_t at the index of the step just taken (§8.1 step 11)
    assert torch.allclose(model.target.copies[2][0].weight, tau * target_w + (1 - tau) * online_w)
    assert torch.allclose(model.target.copies[1][1].running_mean, tau * target_rm + (1 - tau) * online_rm)
    assert not model.target.copies[0].training  # EMAN: the target's BN uses the averaged statistics


def test_without_eman_only_parameters_move_and_the_target_trains_its_own_bn() -> None:
    model = make(eman=False)
    assert model.target.copies[1].training
    before = model.target.copies[1][1].running_mean.clone()
    with torch.no_grad():
        model.projector[1].running_mean.add_(1.0)
    model.after_step(0.5)
    assert torch.equal(model.target.copies[1][1].running_mean, before)


def test_features_are_the_pooled_online_backbone_and_a_1x1_map_works() -> None:
    model = make()
    model.eval()
    x = torch.randn(2, 1, 16, 16)
    assert torch.allclose(model.features(x), model.backbone.forward_features(x).mean(dim=(2, 3)), atol=1e-6)
    model.train()
    tiny = torch.randn(4, 1, 8, 8)  # 8 px: the 4-stage CNN ends on 1x1 (N = 1), as in the smoke test
    assert model.backbone.forward_features(tiny).shape[-2:] == (1, 1)
    assert torch.isfinite(model({"standard": [tiny, tiny.flip(-1)]}, 0.0).loss)


def test_bad_hyper_parameters_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="num_heads=3 must divide"):
        make(num_heads=3)  # 32 backbone channels, proj_dim 8
    with pytest.raises(ValueError, match="num_heads=16 must divide"):
        make(num_heads=16)  # divides 32 channels but not proj_dim 8
    with pytest.raises(ValueError, match="alpha"):
        make(alpha=1.5)
    with pytest.raises(ValueError, match="scale"):
        make(scale=0.0)
    with pytest.raises(ValueError, match="tau_base"):
        make(tau_base=1.2)
    with pytest.raises(ValueError, match="forward_features"):
        LEWELBYOL(nn.Linear(4, 4))


def test_presets_resolve_and_a_few_steps_lower_the_loss() -> None:
    paper = resolve("lewel-byol", "digits", LEWELBYOL, preset="paper")
    assert paper.method_options["num_heads"] == 4 and paper.method_options["tau_base"] == 0.98
    assert paper.weight_decay == 1.5e-6 and paper.warmup_epochs == 10
    quick = resolve("lewel-byol", "digits", LEWELBYOL, preset="quick")
    assert paper.method_options["eman"] is True and quick.method_options["eman"] is False  # measured, see preset
    losses = losses_over_steps(make(), lr=0.05, steps=10)
    assert losses[-1] < losses[0]
