"""SimSiam (METHODS.md §3.4): architecture, loss formula, stop-gradient, parameter groups."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.methods.simsiam import SimSiam
from sslkit.models.smallcnn import smallcnn


def make(**kwargs) -> SimSiam:
    torch.manual_seed(0)
    return SimSiam(smallcnn(1, 16, width=4), proj_dim=16, pred_hidden_dim=4, **kwargs)


def test_projector_and_predictor_follow_the_paper() -> None:
    model = make()
    kinds = [type(m) for m in model.projector]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d]
    assert model.projector[-1].affine is False and model.projector[0].bias is None
    assert [type(m) for m in model.predictor] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]


def test_loss_is_the_symmetrised_negative_cosine() -> None:
    model = make().eval()  # eval: BN uses running stats, so separate forwards are reproducible
    x1, x2 = torch.randn(6, 1, 16, 16), torch.randn(6, 1, 16, 16)
    out = model({"standard": [x1, x2]}, 0.0)
    z1, z2 = model.projector(model.backbone(x1)), model.projector(model.backbone(x2))
    p1, p2 = model.predictor(z1), model.predictor(z2)
    cos = nn.functional.cosine_similarity
    expected = -0.5 * cos(p1, z2).mean() - 0.5 * cos(p2, z1).mean()
    assert torch.allclose(out.loss, expected, atol=1e-6)


def test_gradient_reaches_backbone_only_through_the_predictions() -> None:
    model = make()
    x1 = torch.randn(6, 1, 16, 16)
    out = model({"standard": [x1, x1.flip(-1)]}, 0.0)
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_param_groups_no_decay_on_1d_and_fixed_predictor_lr() -> None:
    model = make(fix_pred_lr=True)
    groups = model.param_groups()
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters())
    for group in groups:
        if group.get("weight_decay") == 0.0:
            assert all(p.ndim <= 1 for p in group["params"])
    predictor = {id(p) for p in model.predictor.parameters()}
    assert all(g["fixed_lr"] for g in groups if {id(p) for p in g["params"]} <= predictor)
