"""SimCLR (METHODS.md §3.1): architecture, NT-Xent forward, gradients, pair_loss, presets, learning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslkit.config import resolve
from sslkit.losses import nt_xent
from sslkit.methods.base import StepOutput
from sslkit.methods.simclr import SimCLR
from sslkit.models.smallcnn import smallcnn
from tests.methods._common import losses_over_steps
from tests.methods._common import two_views as views


def make(**kwargs) -> SimCLR:
    torch.manual_seed(0)
    options = {"proj_hidden_dim": 16, "proj_dim": 8, **kwargs}
    return SimCLR(smallcnn(1, 16, width=4), **options)


def test_projector_follows_the_official_code_and_solo_learn() -> None:
    official = make()  # 3 layers, BN after the hidden Linears, out 128 by default
    assert [type(m) for m in official.projector] == [
        nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert official.projector[-1].out_features == 8 and official.projector[-1].bias is not None
    defaults = SimCLR(smallcnn(1, 16, width=4))
    assert defaults.temperature == 0.5 and defaults.projector[-1].out_features == 128
    solo = make(proj_layers=2, proj_bn=False)  # solo-learn CIFAR: Linear -> ReLU -> Linear
    assert [type(m) for m in solo.projector] == [nn.Linear, nn.ReLU, nn.Linear]


def test_forward_is_nt_xent_of_the_two_views() -> None:
    model = make(temperature=0.2).eval()  # eval: BN uses running stats, separate forwards agree
    batch = views()
    out = model(batch, 0.0)
    assert isinstance(out, StepOutput) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    z1, z2 = (model.projector(model.backbone(x)) for x in batch["standard"])
    assert torch.allclose(out.loss, nt_xent(z1, z2, 0.2), atol=1e-6)
    assert out.embeddings is not None and out.embeddings.shape == (8, 8) and not out.embeddings.requires_grad


def test_gradients_reach_every_parameter() -> None:
    model = make()
    model(views(), 0.0).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)


def test_pair_loss_is_one_directional_info_nce_over_the_target_rows() -> None:
    model = make(temperature=0.5)
    g = torch.Generator().manual_seed(0)
    online, target = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    expected = torch.stack([
        -torch.log(torch.exp(F.cosine_similarity(online[i], target[i], dim=0) / 0.5)
                   / sum(torch.exp(F.cosine_similarity(online[i], target[k], dim=0) / 0.5) for k in range(5)))
        for i in range(5)]).mean()
    assert torch.allclose(model.pair_loss(online, target), expected, atol=1e-6)
    online.requires_grad_(True)
    model.pair_loss(online, target.detach()).backward()  # DSSL-style: standard side detached
    assert online.grad is not None and online.grad.abs().sum() > 0


@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_presets_resolve(preset: str) -> None:
    cfg = resolve("simclr", "digits", SimCLR, preset=preset)
    assert cfg.method_options["temperature"] == (0.5 if preset == "paper" else 0.2)
    assert cfg.backbone == ("resnet18" if preset == "paper" else "smallcnn")
    if preset == "paper":
        assert (cfg.batch_size, cfg.epochs, cfg.weight_decay) == (512, 1000, 1e-4)
    SimCLR(smallcnn(1, 16, width=4), **cfg.method_options)  # the options fit the constructor


def test_a_few_steps_lower_the_loss() -> None:
    losses = losses_over_steps(make(temperature=0.5), lr=0.1)
    assert losses[-1] < losses[0]
