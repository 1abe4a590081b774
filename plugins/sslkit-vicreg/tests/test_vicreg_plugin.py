"""The plugin API seen from outside: discovery through the registry, `sslkit list`, a CLI pretrain.

Nothing here imports sslkit_vicreg directly: sslkit finds the method through the `sslkit.methods`
entry point of the installed `sslkit-vicreg` distribution, as it would any third-party plugin.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sslkit import _registry
from sslkit.cli import app
from sslkit.methods.base import Method
from sslkit.runs import Run

_registry.clear_cache()  # see entry points installed since another test module first looked
pytestmark = pytest.mark.skipif(
    "vicreg" not in _registry.names("methods"),
    reason="the sslkit-vicreg plugin is not installed (pip install -e plugins/sslkit-vicreg; `make test` does)",
)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide terminals (rich must not wrap), and a fresh Accelerate state after an in-process run."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERM", "dumb")
    yield
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(reset_partial_state=True)
    PartialState._reset_state()


def test_registry_discovers_the_plugin_lazily() -> None:
    entry = _registry.get("methods", "vicreg")
    assert entry.distribution == "sslkit-vicreg" and entry.value == "sslkit_vicreg.method:VICReg"
    cls = _registry.load("methods", "vicreg")
    assert isinstance(cls, type) and issubclass(cls, Method) and cls.__name__ == "VICReg"
    assert {"paper", "quick"} <= set(cls.presets)


def test_sslkit_list_shows_the_distribution() -> None:
    result = runner.invoke(app, ["list", "methods"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if " vicreg " in line)
    assert "sslkit-vicreg" in line and "VICReg" in line


def test_cli_pretrain_on_digits_and_the_checkpoint_loads(tmp_path: Path) -> None:
    args = ["pretrain", "vicreg", "digits", "--preset", "quick", "--steps", "4", "--batch-size", "32",
            "--out", str(tmp_path), "--name", "run", "--set", 'backbone_options={"width": 4}',
            "--set", "proj_hidden_dim=32", "--set", "proj_dim=32", "--set", "knn_every=0",
            "--set", "num_workers=0", "--set", "log_every=2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["config"]["method"] == "vicreg"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss" in r]
    assert losses and all(math.isfinite(r["loss"]) for r in losses)
    method, step = Run.open(run).load_method()  # strict load through the registry
    assert step == 4 and type(method).__name__ == "VICReg"
    with torch.no_grad():
        assert method.features(torch.randn(2, 1, 8, 8)).shape == (2, method.backbone.num_features)
