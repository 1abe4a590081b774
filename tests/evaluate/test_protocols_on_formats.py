"""Every protocol from the CLI on runs trained on CIFAR-format and IDX (Fashion-MNIST) files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sslkit.cli import app
from tests.formats import fake_idx, write_cifar10, write_cifar100

runner = CliRunner()
PROTOCOLS = [
    ("knn", ["--k", "10"], "knn", {"top1"}),
    ("linear", ["--epochs", "3"], "linear", {"top1", "train_top1"}),
    ("linear", ["--recipe", "paper", "--epochs", "2"], "linear-paper", {"top1", "top1_best", "train_top1"}),
    ("finetune", ["--fraction", "0.5", "--epochs", "1"], "finetune-50pct", {"top1"}),
    ("cluster", ["--seeds", "2"], "cluster", {"nmi", "acc", "ari"}),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, n_train=60, n_test=20)
    write_cifar100(root, n_train=60, n_test=20)
    fake_idx(root, n_train=60, n_test=20)
    return root


@pytest.fixture(scope="module", params=["cifar10", "fashion-mnist"])
def run(request: pytest.FixtureRequest, data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    dataset = request.param
    out = tmp_path_factory.mktemp("runs")
    args = ["pretrain", "simsiam", dataset, "--preset", "quick", "--steps", "2", "--batch-size", "16",
            "--data-dir", str(data), "--out", str(out), "--name", "run", "--set", "num_workers=0",
            "--set", 'backbone_options={"width": 4}']
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out / "run", dataset


@pytest.mark.parametrize(("protocol", "args", "name", "metrics"), PROTOCOLS)
def test_protocol_from_the_cli(run: tuple[Path, str], data: Path, protocol: str, args: list[str], name: str,
                               metrics: set[str]) -> None:
    path, dataset = run
    result = runner.invoke(app, ["eval", str(path), dataset, "--protocol", protocol, "--data-dir", str(data), *args])
    assert result.exit_code == 0, result.output
    record = json.loads((path / "eval" / f"{name}.json").read_text())
    assert set(record["metrics"]) == metrics and record["dataset"] == dataset
    for key, value in record["metrics"].items():  # ARI is below 0 for worse-than-chance clusterings
        assert (-0.5 if key == "ari" else 0.0) <= value <= 1.0, (key, value)


@pytest.mark.parametrize("run", ["cifar10"], indirect=True)
def test_cifar100_clusters_on_its_20_superclasses(run: tuple[Path, str], data: Path) -> None:
    path, _ = run  # a CIFAR-10 backbone evaluated on CIFAR-100 (same channels and size)
    result = runner.invoke(app, ["eval", str(path), "cifar100", "--protocol", "cluster", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    record = json.loads((path / "eval" / "cluster-cifar100.json").read_text())
    assert record["counts"] == {"clusters": 20} and record["split"] == "train+test"
