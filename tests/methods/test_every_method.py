"""Smoke tests generated over the method registry: every registered method (plugins included) trains
a few steps through the real engine, logs a finite loss and round-trips through its checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from sslkit import _registry
from sslkit.config import resolve
from sslkit.engine.trainer import pretrain
from sslkit.runs import Run
from tests.methods._common import losses_over_steps


@pytest.mark.parametrize("name", _registry.names("methods"))
def test_method_trains_and_round_trips(name: str, tmp_path: Path) -> None:
    method_cls = _registry.load("methods", name)
    assert method_cls.views, f"{name} declares no views"
    assert {"paper", "quick"} <= set(method_cls.presets), f"{name} needs paper and quick presets"
    cfg = resolve(name, "digits", method_cls, preset="quick",
                  sets={"steps": 4, "batch_size": 32, "backbone_options": {"width": 4}, "knn_every": 0,
                        "num_workers": 0, "log_every": 2, "out": str(tmp_path), "name": "run"})
    summary = pretrain(cfg, quiet=True)
    records = [json.loads(line) for line in (Path(summary["run"]) / "metrics.jsonl").read_text().splitlines()]
    assert records and all(math.isfinite(r["loss"]) for r in records if "loss" in r)
    method, step = Run.open(summary["run"]).load_method()  # strict load of the checkpoint
    assert step == 4
    with torch.no_grad():
        features = method.features(torch.randn(2, 1, 8, 8))
    assert features.shape == (2, method.backbone.num_features)


@pytest.mark.parametrize("name", _registry.names("methods"))
def test_method_trains_from_the_cli_on_cifar_format_files(name: str, tmp_path: Path) -> None:
    """`sslkit pretrain NAME cifar10` on generated CIFAR-10 pickle batches: 3 channels, 32 px."""
    from typer.testing import CliRunner

    from sslkit.cli import app
    from tests.formats import write_cifar10

    write_cifar10(tmp_path / "data", n_train=32, n_test=8)
    result = CliRunner().invoke(app, [
        "pretrain", name, "cifar10", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "runs"),
        "--name", "run", "--preset", "quick", "--steps", "2", "--batch-size", "16", "--set", "num_workers=0",
        "--set", 'backbone_options={"width": 4}', "--set", "knn_every=0"])
    assert result.exit_code == 0, result.output
    derived = json.loads((tmp_path / "runs" / "run" / "config.json").read_text())["derived"]
    assert (derived["channels"], derived["image_size"], derived["total_steps"]) == (3, 32, 2)


@pytest.mark.parametrize("name", _registry.names("methods"))
def test_a_few_optimisation_steps_on_digits_lower_the_loss(name: str) -> None:
    """The quick preset's model and views on real digits: SGD steps on one fixed batch of views.

    ``after_step`` (queue enqueues, EMA moves) is left out, so that every step's loss is measured
    against the same negatives and targets: a queue filling up with the batch's own keys would
    otherwise raise MoCo's loss while the model improves.
    """
    from sslkit.engine.build import build

    method_cls = _registry.load("methods", name)
    cfg = resolve(name, "digits", method_cls, preset="quick",
                  sets={"steps": 10, "backbone_options": {"width": 8}, "knn_every": 0})
    torch.manual_seed(0)
    comps = build(cfg)
    images = comps.source.images[:32]
    views = comps.views(images, torch.Generator().manual_seed(0))
    losses = losses_over_steps(comps.model.train(), lr=0.05, steps=10, views=views)
    assert all(math.isfinite(v) for v in losses), losses
    assert sum(losses[-3:]) < sum(losses[:3]), f"{name}: {losses}"


@pytest.mark.parametrize("name", _registry.names("methods"))
def test_gradients_reach_exactly_the_optimised_parameters(name: str) -> None:
    """param_groups() holds every trainable parameter once; one backward pass reaches all of them and
    nothing frozen (EMA targets, teachers, key encoders stay out of the optimizer and the graph)."""
    from sslkit.engine.build import build

    method_cls = _registry.load("methods", name)
    cfg = resolve(name, "digits", method_cls, preset="quick", sets={"backbone_options": {"width": 4}, "knn_every": 0})
    torch.manual_seed(0)
    comps = build(cfg)
    model = comps.model.train()
    grouped = [p for group in model.param_groups() for p in group["params"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len({id(p) for p in grouped}) == len(grouped), "a parameter is in two groups"
    assert {id(p) for p in grouped} == {id(p) for p in trainable}
    views = comps.views(comps.source.images[:16], torch.Generator().manual_seed(0))
    model(views, 0.0).loss.backward()
    names = {id(p): n for n, p in model.named_parameters()}
    assert [names[id(p)] for p in trainable if p.grad is None] == []
    assert [n for n, p in model.named_parameters() if not p.requires_grad and p.grad is not None] == []
