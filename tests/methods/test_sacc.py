"""SACC (METHODS.md §7): views, heads, pair parsing, the loss against a reference, gradients, presets."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.losses import cluster_contrastive, nt_xent
from sslkit.methods.base import StepOutput
from sslkit.methods.sacc import SACC, parse_pairs
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps


def make(**kwargs) -> SACC:
    torch.manual_seed(0)
    options = {"num_clusters": 4, "proj_dim": 8, **kwargs}
    return SACC(smallcnn(1, 16, width=4), **options)


def three_views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    """Two weak views and one strong view of a random 16-px grayscale batch."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    strong = (x + 0.5 * torch.randn(x.shape, generator=g)).flip(-2)
    return {"weak": [x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)], "strong": [strong]}


def test_views_are_two_weak_and_one_independent_strong() -> None:
    weak, strong = SACC.views
    assert (weak.role, weak.count, weak.policy, weak.derived_from) == ("weak", 2, "simclr", None)
    assert dict(weak.options) == {"scale_min": 0.08, "jitter": 0.4}  # CC's s = 0.5: CJ(0.4, 0.4, 0.4, 0.1)
    assert (strong.role, strong.count, strong.policy, strong.derived_from) == ("strong", 1, "sacc-strong", None)


def test_heads_follow_the_released_network() -> None:
    model = SACC(smallcnn(1, 16, width=4))  # defaults: K = 10, feature_dim 128, hidden = backbone width
    d = model.backbone.num_features
    for head, out in ((model.instance_projector, 128), (model.cluster_projector, 10)):
        assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Linear]
        assert (head[0].in_features, head[0].out_features, head[2].out_features) == (d, d, out)
        assert head[0].bias is not None and head[2].bias is not None
    assert (model.instance_temperature, model.cluster_temperature, model.cluster_weight) == (0.5, 1.0, 1.0)
    assert model.instance_pairs == (("w1", "w2"), ("w2", "s"))
    assert model.cluster_pairs == (("w1", "w2"), ("w1", "s"), ("w2", "s"))


def test_probabilities_sum_to_one_and_assignments_are_their_argmax() -> None:
    model = make().eval()
    images = torch.randn(5, 1, 16, 16)
    with torch.no_grad():
        p = model.cluster_probabilities(images)
        assignments = model.cluster_assignments(images)
        features = model.features(images)
    assert p.shape == (5, 4) and (p >= 0).all() and torch.allclose(p.sum(dim=1), torch.ones(5), atol=1e-6)
    assert assignments.shape == (5,) and assignments.dtype == torch.int64 and torch.equal(assignments, p.argmax(1))
    assert features.shape == (5, model.backbone.num_features)  # features stay the pooled backbone


def reference_loss(model: SACC, batch: dict[str, list[torch.Tensor]], instance_pairs, cluster_pairs,
                   sigma: float) -> float:
    """The total of METHODS.md §7.1 step 5 written out from the heads and the two losses."""
    (w1, w2), (s,) = batch["weak"], batch["strong"]
    z, c = {}, {}
    for name, x in (("w1", w1), ("w2", w2), ("s", s)):
        h = model.backbone(x)
        z[name] = F.normalize(model.instance_projector(h), dim=1)
        c[name] = torch.softmax(model.cluster_projector(h), dim=1)
    total = sum(nt_xent(z[a], z[b], model.instance_temperature).item() for a, b in instance_pairs)
    total += sigma * sum(cluster_contrastive(c[a], c[b], model.cluster_temperature).item() for a, b in cluster_pairs)
    return total


@pytest.mark.parametrize(("instance", "cluster", "sigma"), [
    ("w1-w2,w2-s", "w1-w2,w1-s,w2-s", 1.0),  # released train.py
    ("w1-w2,w1-s", "w1-w2,w1-s", 0.5),  # the STL-10 script's pairs, CIFAR-100's sigma
    ("w1-w2", "", 1.0),  # instance only (a CC ablation)
])
def test_forward_is_the_sum_over_the_configured_pairs(instance: str, cluster: str, sigma: float) -> None:
    model = make(instance_pairs=instance, cluster_pairs=cluster, cluster_weight=sigma).eval()
    batch = three_views()
    with torch.no_grad():
        out = model(batch, 0.0)
        expected = reference_loss(model, batch, parse_pairs(instance, "i"), parse_pairs(cluster, "c"), sigma)
    assert isinstance(out, StepOutput) and out.loss.ndim == 0
    assert math.isclose(out.loss.item(), expected, rel_tol=1e-5)
    logs = out.logs
    assert math.isclose(float(logs["loss_instance"] + sigma * logs["loss_cluster"]), out.loss.item(), rel_tol=1e-5)
    assert math.isclose(float(logs["cluster_contrast"] + logs["cluster_entropy"]), float(logs["loss_cluster"]),
                        rel_tol=1e-5, abs_tol=1e-7)
    assert out.embeddings is not None and out.embeddings.shape == (8, 8) and not out.embeddings.requires_grad


def test_gradients_reach_the_backbone_and_both_heads() -> None:
    model = make()
    model(three_views(), 0.0).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_without_cluster_pairs_the_cluster_head_gets_no_gradient() -> None:
    model = make(cluster_pairs="")
    model(three_views(), 0.0).loss.backward()
    assert all(p.grad is None for p in model.cluster_projector.parameters())
    assert all(p.grad is not None for p in model.instance_projector.parameters())


def test_pair_parsing() -> None:
    assert parse_pairs(" w1-w2 , s-w1 ", "x") == (("w1", "w2"), ("s", "w1"))
    assert parse_pairs(["w2-s"], "x") == (("w2", "s"),)
    assert parse_pairs("", "x") == ()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"instance_pairs": "w1-w3"}, r"instance_pairs: bad pair 'w1-w3'.*w1, w2, s"),
    ({"cluster_pairs": "w1,w2"}, r"cluster_pairs: bad pair 'w1'.*w1, w2, s"),
    ({"cluster_pairs": "w1-w1"}, "with itself"),
    ({"instance_pairs": "w1-w2,w2-w1"}, "twice"),
    ({"instance_pairs": "", "cluster_pairs": ""}, "both empty"),
    ({"num_clusters": 1}, "num_clusters"),
    ({"instance_temperature": 0.0}, "instance_temperature"),
    ({"cluster_temperature": -1.0}, "cluster_temperature"),
    ({"cluster_weight": -0.5}, "cluster_weight"),
])
def test_bad_hyper_parameters_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_presets_resolve(preset: str) -> None:
    cfg = resolve("sacc", "digits", SACC, preset=preset)
    assert cfg.optimizer == "adam" and cfg.weight_decay == 0.0 and cfg.lr_scaling == "none"
    assert "standard" not in cfg.aug  # SACC has no standard role
    if preset == "paper":
        assert (cfg.backbone, cfg.image_size, cfg.batch_size, cfg.epochs, cfg.seed) == ("resnet34", 224, 200, 1000, 42)
        assert (cfg.lr, cfg.warmup_epochs, cfg.min_lr_ratio) == (3e-4, 0, 1.0)  # constant lr
        assert cfg.method_options["instance_pairs"] == "w1-w2,w2-s"
        assert cfg.method_options["cluster_pairs"] == "w1-w2,w1-s,w2-s"
    else:
        assert cfg.backbone == "smallcnn"
    model = SACC(smallcnn(1, 16, width=4), **cfg.method_options)  # the options fit the constructor
    assert model.num_clusters == 10


def test_paper_preset_keeps_the_learning_rate_constant() -> None:
    from sslkit.engine.schedule import warmup_cosine

    cfg = resolve("sacc", "digits", SACC, preset="paper")
    total = 1000
    assert [warmup_cosine(t, total, 0, cfg.min_lr_ratio) for t in (0, total // 2, total)] == [1.0, 1.0, 1.0]


def test_a_few_steps_lower_the_loss() -> None:
    losses = losses_over_steps(make(), lr=1e-3, steps=8, views=three_views(), optimizer=torch.optim.Adam)
    assert losses[-1] < losses[0]
