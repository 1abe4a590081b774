"""`sslkit eval` and `sslkit export` on a real (tiny) run, and the exported weights in torchvision."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import sslkit
from sslkit.cli import app

runner = CliRunner()


def test_pretrain_eval_export_from_the_cli(tmp_path: Path) -> None:
    args = ["pretrain", "simsiam", "digits", "--preset", "quick", "--backbone", "resnet18", "--steps", "3",
            "--batch-size", "32", "--out", str(tmp_path), "--name", "run", "--set", "num_workers=0",
            "--set", 'backbone_options={"width": 8}', "--set", "proj_dim=32", "--set", "pred_hidden_dim=8"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"

    result = runner.invoke(app, ["eval", str(run), "digits", "--protocol", "knn", "--k", "20"])
    assert result.exit_code == 0, result.output
    record = json.loads((run / "eval" / "knn.json").read_text())
    assert record["options"] == {"k": 20} and 0.0 <= record["metrics"]["top1"] <= 1.0 and record["images"]["test"] > 0

    result = runner.invoke(app, ["export", str(run), "--safetensors"])
    assert result.exit_code == 0, result.output
    export = run / "export"
    config = json.loads((export / "config.json").read_text())
    assert config["sslkit"]["method"] == "simsiam" and config["pretrained_cfg"]["input_size"] == [1, 8, 8]
    top1 = f"{100 * record['metrics']['top1']:.2f}"
    assert f"| knn | digits | top-1 | {top1} | 1 |" in (export / "README.md").read_text()

    # the exported weights rebuild strictly (tests/test_export.py loads width-64 exports into torchvision)
    state = load_file(export / "model.safetensors")
    assert config["sslkit"]["backbone"]["stem"] == "cifar"
    backbone = sslkit.load_backbone(export)
    x = torch.randn(2, 1, 8, 8)
    assert torch.allclose(backbone(x), sslkit.load_backbone(run)(x))
    assert set(state) == set(backbone.state_dict())

    again = runner.invoke(app, ["export", str(run)])
    assert again.exit_code == 2 and "exists" in again.output and "--force" in again.output
    assert runner.invoke(app, ["export", str(run), "--force"]).exit_code == 0

    # eval on an export directory works too
    result = runner.invoke(app, ["eval", str(export), "digits", "--k", "20"])
    assert result.exit_code == 0, result.output

    # --onnx (the CLI passes onnx=True to export_run): model.onnx next to the weights, check recorded
    onnx_export = sslkit.export_run(run, tmp_path / "onnx", onnx=True)
    check = json.loads((onnx_export / "config.json").read_text())["sslkit"]["onnx"]
    assert (onnx_export / "model.onnx").is_file() and check["max_abs_diff"] <= check["tolerance"]
