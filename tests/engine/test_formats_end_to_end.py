"""`sslkit pretrain` end to end on small files in each dataset's official on-disk format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sslkit.cli import app
from tests.formats import fake_idx, write_cifar10, write_imagefolder

runner = CliRunner()
TINY = ["--preset", "quick", "--steps", "2", "--batch-size", "8", "--set", "num_workers=0",
        "--set", 'backbone_options={"width": 4}', "--set", "proj_dim=16", "--set", "pred_hidden_dim=4",
        "--set", "knn_every=1"]


@pytest.mark.parametrize("dataset,writer,extra", [
    ("fashion-mnist", lambda d: fake_idx(d, n_train=40, n_test=10), []),
    ("cifar10", lambda d: write_cifar10(d, n_train=40, n_test=10), []),
    ("imagefolder", lambda d: write_imagefolder(d, per_class=10, splits=("train", "test"),
                                                modes=("RGB", "L", "RGBA", "CMYK")), ["--image-size", "16"]),
])
def test_pretrain_on_official_formats(tmp_path: Path, monkeypatch, dataset, writer, extra) -> None:
    data = tmp_path / "data"
    writer(data)
    monkeypatch.setenv("HOME", str(tmp_path))  # never read the user's real caches
    spec = f"imagefolder:{data}" if dataset == "imagefolder" else dataset
    args = ["pretrain", "simsiam", spec, "--data-dir", str(data), "--out", str(tmp_path / "runs"),
            "--name", "run", *TINY, *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "run"
    derived = json.loads((run / "config.json").read_text())["derived"]
    assert derived["channels"] == (1 if dataset == "fashion-mnist" else 3)
    assert derived["knn_monitor"] is True
    assert any('"knn_top1"' in line for line in (run / "metrics.jsonl").read_text().splitlines())
