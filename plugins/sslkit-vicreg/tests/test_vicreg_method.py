"""VICReg method: expander, forward, gradients, pair_loss for compositions, presets, learning."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from sslkit.config import resolve
from sslkit.methods.base import PairwiseMethod, StepOutput
from sslkit.models.smallcnn import smallcnn

pytest.importorskip("sslkit_vicreg", reason="sslkit-vicreg is not installed (pip install -e plugins/sslkit-vicreg)")

from sslkit_vicreg.loss import vicreg_loss  # noqa: E402
from sslkit_vicreg.method import VICReg  # noqa: E402


def make(**kwargs) -> VICReg:
    torch.manual_seed(0)
    return VICReg(smallcnn(1, 16, width=4), **{"proj_hidden_dim": 16, "proj_dim": 12, **kwargs})


def views(batch: int = 8) -> dict[str, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 16, 16, generator=g)
    return {"standard": [x + 0.1 * torch.randn(x.shape, generator=g), x.flip(-1)]}


def test_expander_follows_the_official_code() -> None:
    model = make()
    assert isinstance(model, PairwiseMethod)
    kinds = [type(m) for m in model.projector]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert model.projector[-1].bias is None and model.projector[-1].out_features == 12
    defaults = {k: p.default for k, p in inspect.signature(VICReg).parameters.items() if k != "backbone"}
    assert defaults == {"proj_hidden_dim": 8192, "proj_dim": 8192, "sim_coeff": 25.0, "std_coeff": 25.0,
                        "cov_coeff": 1.0, "eps": 1e-4}


def test_forward_is_the_vicreg_loss_of_the_two_views_with_its_terms_logged() -> None:
    model = make(std_coeff=10.0).eval()  # eval: BN uses running stats, separate forwards agree
    batch = views()
    out = model(batch, 0.0)
    assert isinstance(out, StepOutput) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    z1, z2 = (model.projector(model.backbone(x)) for x in batch["standard"])
    expected = vicreg_loss(z1, z2, 25.0, 10.0, 1.0)
    assert torch.allclose(out.loss, expected.loss, atol=1e-5)
    assert torch.allclose(model.pair_loss(z1, z2), out.loss, atol=1e-5)
    for name in ("invariance", "variance", "covariance"):
        assert torch.allclose(out.logs[name], getattr(expected, name), atol=1e-5)
        assert not out.logs[name].requires_grad
    assert out.embeddings is not None and out.embeddings.shape == (8, 12) and not out.embeddings.requires_grad


def test_gradients_reach_every_parameter_and_a_detached_target_gets_none() -> None:
    model = make()
    model(views(), 0.0).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)
    online = torch.randn(8, 12, requires_grad=True)
    target = torch.randn(8, 12, requires_grad=True)
    model.pair_loss(online, target.detach()).backward()  # what a DSSL-style composition does
    assert online.grad is not None and target.grad is None


@pytest.mark.parametrize("kwargs,message", [
    ({"std_coeff": -1.0}, "must be >= 0"), ({"eps": 0.0}, "eps must be > 0"), ({"proj_dim": 0}, "must be >= 1"),
])
def test_bad_hyper_parameters_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_presets_resolve(preset: str) -> None:
    cfg = resolve("vicreg", "digits", VICReg, preset=preset)
    if preset == "paper":  # solo-learn scripts/pretrain/cifar/vicreg.yaml (with SGD for LARS)
        assert cfg.backbone == "resnet18" and (cfg.lr, cfg.weight_decay, cfg.epochs) == (0.3, 1e-4, 1000)
        assert cfg.method_options["proj_dim"] == cfg.method_options["proj_hidden_dim"] == 2048
        assert (cfg.method_options["sim_coeff"], cfg.method_options["std_coeff"]) == (25.0, 25.0)
        assert cfg.aug["standard"] == "simclr:scale_min=0.2,saturation=0.2,solarize_p=0.1"
    VICReg(smallcnn(1, 16, width=4), **cfg.method_options)  # the options fit the constructor


def test_a_few_steps_lower_the_loss() -> None:
    model = make()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch, losses = views(16), []
    for _ in range(10):
        loss = model(batch, 0.0).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
