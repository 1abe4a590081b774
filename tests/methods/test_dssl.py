"""DSSL (METHODS.md §4): heavy views derived from standard, the loss against the formula, where the
gradient stops (§9.1), the symmetric-heavy baseline, MoCo's queue, DSSL-BYOL's §4.2 options, presets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.methods.barlowtwins import BarlowTwins
from sslkit.methods.base import Embedding, PairwiseMethod
from sslkit.methods.byol import BYOL
from sslkit.methods.dssl import (
    DSSLBYOL,
    Directional,
    DSSLBarlowTwins,
    DSSLMoCoV2,
    DSSLSimCLR,
    DSSLSimSiam,
    directional,
)
from sslkit.methods.mocov2 import MoCoV2
from sslkit.methods.simclr import SimCLR
from sslkit.methods.simsiam import SimSiam
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps, two_views

OPTIONS = {  # tiny heads, so every test runs in well under a second
    DSSLSimSiam: {"proj_dim": 16, "pred_hidden_dim": 8},
    DSSLBYOL: {"proj_hidden_dim": 16, "proj_dim": 8, "pred_hidden_dim": 16},
    DSSLSimCLR: {"proj_hidden_dim": 16, "proj_dim": 8},
    DSSLMoCoV2: {"proj_hidden_dim": 16, "proj_dim": 8, "queue_size": 32, "temperature": 0.2, "key_momentum": 0.9},
    DSSLBarlowTwins: {"proj_hidden_dim": 16, "proj_dim": 16},
}
BASES = {DSSLSimSiam: SimSiam, DSSLBYOL: BYOL, DSSLSimCLR: SimCLR, DSSLMoCoV2: MoCoV2, DSSLBarlowTwins: BarlowTwins}
NAMES = {DSSLSimSiam: "dssl-simsiam", DSSLBYOL: "dssl-byol", DSSLSimCLR: "dssl-simclr", DSSLMoCoV2: "dssl-mocov2",
         DSSLBarlowTwins: "dssl-barlowtwins"}
CLASSES = list(OPTIONS)


def make(cls: type, **kwargs) -> PairwiseMethod:
    torch.manual_seed(0)
    return cls(smallcnn(1, 16, width=4), **{**OPTIONS.get(cls, {}), **kwargs})


def heavy_of(x: torch.Tensor) -> torch.Tensor:
    """A differentiable stand-in for the heavy policy applied to a standard view's pixels."""
    return 0.7 * x.flip(-2) + 0.3 * x.roll(3, dims=-1)


def four_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    views = two_views(batch)
    return {**views, "heavy": [heavy_of(x) for x in views["standard"]]}


def D(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Negative cosine averaged over the batch, written out per sample (METHODS.md §0.1)."""
    return -torch.stack([p[i] @ z[i] / (p[i].norm() * z[i].norm()) for i in range(len(p))]).mean()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_views_are_the_base_roles_plus_two_heavy_views_derived_from_standard(cls: type) -> None:
    base, (*own, heavy) = BASES[cls], cls.views
    assert tuple(own) == base.views and issubclass(cls, base) and issubclass(cls, Directional)
    assert (heavy.role, heavy.count, heavy.derived_from) == ("heavy", 2, "standard")
    assert heavy.per_view() == [("randaugment-dssl", {"n": 2, "m": 9})] * 2  # §4.4 CIFAR-10: RA(2, 9)


def reference(model: nn.Module, views: dict[str, list[torch.Tensor]], mode: str, lam: float) -> torch.Tensor:
    """§4.1 / §4.2 from the modules: ``L_S + (1 - lam) L_A + lam L_R``, or the symmetric-heavy loss."""
    def online_target(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(model, SimSiam):
            z = model.projector(model.backbone(x))
            return model.predictor(z), z.detach()
        with torch.no_grad():
            target = model.target(x)  # BYOL: the EMA network's projection
        return model.predictor(model.projector(model.backbone(x))), target

    (p1, z1), (p2, z2) = (online_target(x) for x in views["standard"])
    (ph1, zh1), (ph2, zh2) = (online_target(x) for x in views["heavy"])
    loss_s = 0.5 * D(p1, z2) + 0.5 * D(p2, z1)  # both SimSiam (§4.1) and DSSL-BYOL (§4.2) weigh 1/2
    if mode == "symmetric":
        return loss_s + 0.5 * (0.5 * (D(ph1, z1) + D(p1, zh1)) + 0.5 * (D(ph2, z2) + D(p2, zh2)))
    loss_a = 0.5 * (D(ph1, z1) + D(ph2, z2))  # heavy -> its own standard view
    loss_r = 0.5 * (D(p1, zh1) + D(p2, zh2))  # the CIFAR code's reverse term
    return loss_s + (1 - lam) * loss_a + lam * loss_r


@pytest.mark.parametrize("cls", [DSSLSimSiam, DSSLBYOL], ids=lambda c: c.__name__)
@pytest.mark.parametrize(("mode", "lam"), [("directional", 0.1), ("directional", 0.0), ("symmetric", None)])
def test_loss_equals_the_formula(cls: type, mode: str, lam: float | None) -> None:
    model = make(cls, heavy_mode=mode, **({} if lam is None else {"reverse_weight": lam}))
    views = four_views()
    out = model(views, 0.0)  # train-mode BN: recomputing the same batches gives the same statistics
    assert torch.allclose(out.loss, reference(model, views, mode, lam or 0.0), atol=1e-5)
    assert {"loss_standard", "loss_heavy"} <= set(out.logs)
    assert ("loss_reverse" in out.logs) == (mode == "directional" and lam != 0)
    if cls is DSSLBYOL:
        assert out.logs["tau"] == 0.99


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_standard_loss_is_the_base_methods_own_loss(cls: type) -> None:
    views = four_views()
    base = make(BASES[cls], **OPTIONS[cls], **cls.base_defaults)  # same seed, same modules: same weights
    out = make(cls)(views, 0.0)
    assert torch.allclose(out.logs["loss_standard"], base({"standard": views["standard"]}, 0.0).loss, atol=1e-6)
    lam = 0.1
    expected = out.logs["loss_standard"] + (1 - lam) * out.logs["loss_heavy"] + lam * out.logs["loss_reverse"]
    assert torch.allclose(out.loss, expected, atol=1e-6)


def standard_input_gradient(model: PairwiseMethod, through_standard_path: bool) -> torch.Tensor:
    """Gradient of the heavy term w.r.t. the standard pixels, which also feed the heavy views.

    With ``through_standard_path=False`` the standard views enter their own forward detached, so
    the gradient can only come through the heavy views (the online branch of L_A).
    """
    model.begin_step(0.0)
    standard = [x.clone().requires_grad_(True) for x in two_views()["standard"]]
    heavy = [model.embed(heavy_of(x)) for x in standard]
    own = [model.embed(x if through_standard_path else x.detach()) for x in standard]
    model.heavy_losses(own, heavy)["loss_heavy"].backward()
    return torch.cat([x.grad.flatten() for x in standard])


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_gradient_reaches_the_standard_target_from_the_directional_term(cls: type) -> None:
    """§9.1 with lambda = 0: the standard views are only targets of L_A, so their pixels get gradient
    through the heavy views alone; were the standard target not detached (as in SimCLR and Barlow
    Twins, whose targets carry gradient), the two gradients below would differ."""
    model = make(cls, reverse_weight=0.0)
    via_heavy_only = standard_input_gradient(model, through_standard_path=False)
    full = standard_input_gradient(model, through_standard_path=True)
    assert via_heavy_only.abs().sum() > 0
    assert torch.allclose(full, via_heavy_only, atol=1e-6)
    out = model(four_views(), 0.0)
    assert torch.allclose(out.loss, out.logs["loss_standard"] + out.logs["loss_heavy"], atol=1e-6)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_symmetric_mode_passes_gradient_both_ways(cls: type) -> None:
    model = make(cls, heavy_mode="symmetric")
    via_heavy_only = standard_input_gradient(model, through_standard_path=False)
    full = standard_input_gradient(model, through_standard_path=True)
    assert (full - via_heavy_only).abs().sum() > 1e-4  # the standard views are trained towards the heavy ones


def test_mocov2_enqueues_only_the_standard_keys_and_updates_the_key_encoder_once() -> None:
    model = make(DSSLMoCoV2, symmetric=True, key_momentum=0.5)
    with torch.no_grad():
        model.projector[0].weight.add_(1.0)
    old_key_weight = model.key_encoder.copies[1][0].weight.clone()
    views = four_views(8)
    model(views, 0.0)
    assert torch.allclose(model.key_encoder.copies[1][0].weight,  # one momentum update per step, not per view
                          0.5 * old_key_weight + 0.5 * model.projector[0].weight)
    model.after_step(0.1)
    s1, s2 = views["standard"]
    assert int(model.queue.pointer) == 16  # B keys per standard view, none of the heavy views
    assert torch.allclose(model.queue.read()[:16], torch.cat([model.key(s2), model.key(s1)]), atol=1e-6)


def test_dssl_byol_uses_the_negative_cosine_and_a_constant_momentum() -> None:
    model = make(DSSLBYOL)
    assert (model.loss, model.tau_schedule, model.tau_base) == ("cosine", "constant", 0.99)  # §4.2
    assert [model.tau(p) for p in (0.0, 0.5, 1.0)] == [0.99, 0.99, 0.99]
    byol = make(BYOL)  # BYOL's own defaults are unchanged: cosine schedule from tau_base to 1
    assert (byol.loss, byol.tau_schedule) == ("nmse", "cosine")
    assert [round(byol.tau(p), 6) for p in (0.0, 0.5, 1.0)] == [0.996, 0.998, 1.0]
    with torch.no_grad():
        for p in model.projector.parameters():
            p.add_(1.0)
    target, online = model.target.copies[1][0].weight.clone(), model.projector[0].weight.clone()
    model.after_step(0.5)
    assert torch.allclose(model.target.copies[1][0].weight, 0.99 * target + 0.01 * online)
    online, target = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.allclose(model.pair_loss(online, target), D(online, target), atol=1e-6)


def test_bad_options_fail_clearly() -> None:
    with pytest.raises(ValueError, match="heavy_mode"):
        make(DSSLSimSiam, heavy_mode="both")
    with pytest.raises(ValueError, match="reverse_weight must be in"):
        make(DSSLSimSiam, reverse_weight=1.5)
    with pytest.raises(ValueError, match="directional' only"):
        make(DSSLSimSiam, heavy_mode="symmetric", reverse_weight=0.1)
    with pytest.raises(ValueError, match="loss must be"):
        make(BYOL, loss="mse")
    with pytest.raises(ValueError, match="tau_schedule"):
        make(BYOL, tau_schedule="linear")
    with pytest.raises(TypeError, match="PairwiseMethod"):
        directional(nn.Linear)
    with pytest.raises(TypeError, match="no option"):
        directional(SimSiam, temperature=0.1)
    with pytest.raises(TypeError, match="heavy"):
        directional(DSSLSimSiam)


class _Plugin(PairwiseMethod):
    """A minimal third-party pairwise method: a linear projector, negative cosine, no stop-gradient."""

    def __init__(self, backbone: nn.Module, dim: int = 8) -> None:
        super().__init__(backbone)
        self.head = nn.Linear(backbone.num_features, dim)

    def embed(self, x: torch.Tensor) -> Embedding:
        z = self.head(self.backbone(x))
        return Embedding(online=z, target=z)

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -F.cosine_similarity(online, target, dim=-1).mean()


def test_a_plugins_pairwise_method_gets_dssl_for_free() -> None:
    cls = directional(_Plugin, dim=4)
    assert list(resolve("plugin", "digits", cls, sets={"dim": 6, "reverse_weight": 0.0}).method_options) == [
        "dim", "reverse_weight"]
    model = make(cls)
    assert model.head.out_features == 4 and [v.role for v in cls.views] == ["standard", "heavy"]
    out = model(four_views(), 0.0)
    assert torch.isfinite(out.loss) and out.embeddings.shape == (8, 4)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_presets_resolve(cls: type, preset: str) -> None:
    cfg = resolve(NAMES[cls], "digits", cls, preset=preset)
    base = resolve(NAMES[cls][len("dssl-"):], "digits", BASES[cls], preset=preset)
    if cls is DSSLSimSiam and preset == "paper":  # §4.5 CIFAR-10 column
        assert (cfg.backbone, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.epochs, cfg.warmup_epochs) == (
            "resnet18", 512, 0.03, 5e-4, 800, 10)
        assert cfg.method_options["fix_pred_lr"] is False  # predictor lr decayed
    else:  # the base's recipe, so the results table compares like with like
        assert cfg.method_options == base.method_options and cfg.aug == base.aug
        assert (cfg.backbone, cfg.batch_size, cfg.lr, cfg.epochs) == (base.backbone, base.batch_size, base.lr,
                                                                      base.epochs)
    cls(smallcnn(1, 16, width=4), **{**cfg.method_options, **OPTIONS[cls]})  # the options fit the constructor


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_few_steps_lower_the_loss(cls: type) -> None:
    losses = losses_over_steps(make(cls), lr=0.05, steps=10, views=four_views(8))
    assert sum(losses[-3:]) < sum(losses[:3]), losses
