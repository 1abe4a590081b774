"""Barlow Twins (METHODS.md §3.5): architecture, forward, gradients, scale_loss, presets, learning."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from sslkit.config import resolve
from sslkit.losses import barlow_twins
from sslkit.methods.barlowtwins import BarlowTwins
from sslkit.methods.base import StepOutput
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps
from tests.methods._common import two_views as views


def make(**kwargs) -> BarlowTwins:
    torch.manual_seed(0)
    options = {"proj_hidden_dim": 16, "proj_dim": 12, **kwargs}
    return BarlowTwins(smallcnn(1, 16, width=4), **options)


def test_projector_follows_the_paper() -> None:
    model = make()
    kinds = [type(m) for m in model.projector]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert all(m.bias is None for m in model.projector if isinstance(m, nn.Linear))
    assert model.projector[-1].out_features == 12
    defaults = {k: p.default for k, p in inspect.signature(BarlowTwins).parameters.items() if k != "backbone"}
    assert defaults == {"proj_hidden_dim": 8192, "proj_dim": 8192, "lambd": 0.0051, "scale_loss": 1.0}


def test_forward_is_the_scaled_barlow_loss_of_the_two_views() -> None:
    model = make(scale_loss=0.1).eval()  # eval: BN uses running stats, separate forwards agree
    batch = views()
    out = model(batch, 0.0)
    assert isinstance(out, StepOutput) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    z1, z2 = (model.projector(model.backbone(x)) for x in batch["standard"])
    assert torch.allclose(out.loss, 0.1 * barlow_twins(z1, z2, 0.0051), atol=1e-6)
    assert torch.allclose(model.pair_loss(z1, z2), out.loss, atol=1e-6)
    assert out.embeddings is not None and out.embeddings.shape == (8, 12) and not out.embeddings.requires_grad


def test_gradients_reach_every_parameter() -> None:
    model = make()
    model(views(), 0.0).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_presets_resolve(preset: str) -> None:
    cfg = resolve("barlowtwins", "digits", BarlowTwins, preset=preset)
    if preset == "paper":
        assert cfg.method_options["lambd"] == 0.0051 and cfg.method_options["scale_loss"] == 0.1
        assert cfg.backbone == "resnet18" and (cfg.lr, cfg.weight_decay, cfg.epochs) == (0.3, 1e-4, 1000)
        assert cfg.method_options["proj_dim"] == cfg.method_options["proj_hidden_dim"] == 2048
    BarlowTwins(smallcnn(1, 16, width=4), **cfg.method_options)  # the options fit the constructor


def test_a_few_steps_lower_the_loss() -> None:
    losses = losses_over_steps(make(), lr=0.01)
    assert losses[-1] < losses[0]
