"""The CLI surface: help, list, errors as one red line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from sslkit.cli import app

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("pretrain", "eval", "transfer", "export", "list"):
        assert command in result.output


def test_python_dash_m_is_the_same_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "sslkit", "--help"], capture_output=True, text=True,
                            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and "pretrain" in result.stdout


@pytest.mark.parametrize("group,name", [("methods", "simsiam"), ("datasets", "fashion-mnist"),
                                        ("backbones", "resnet18"), ("augmentations", "simclr")])
def test_list_shows_name_origin_summary(group: str, name: str) -> None:
    result = runner.invoke(app, ["list", group])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if f" {name} " in line)
    assert "sslkit" in line


@pytest.mark.parametrize("args,message", [
    (["pretrain", "simsam", "digits"], "unknown method 'simsam'; did you mean 'simsiam'"),
    (["pretrain", "simsiam", "cifar11"], "unknown dataset 'cifar11'; did you mean 'cifar10'"),
    (["pretrain", "simsiam", "digits", "--lr", "-1"], "lr must be a positive number"),
    (["pretrain", "simsiam", "digits", "--batch-size", "100000", "--preset", "quick"], "larger than the dataset"),
    (["pretrain", "simsiam", "digits", "--set", "lr"], "--set expects key=value"),
    (["pretrain", "simsiam", "digits", "--aug", "nonsense"], "--aug expects ROLE=POLICY"),
    (["pretrain", "simsiam", "digits", "--backbone", "resnet19", "--preset", "quick"], "did you mean 'resnet18'"),
    (["eval", "/nonexistent/run", "digits"], "neither an sslkit run nor an export"),
    (["export", "/nonexistent/run"], "does not exist"),
    (["transfer", "/nonexistent/run", "digits"], "neither an sslkit run nor an export"),
    (["transfer", "/nonexistent/run", "digits", "--mode", "zero-shot"], "unknown transfer mode 'zero-shot'"),
    (["list", "plugins"], "unknown group 'plugins'"),
    (["pretrain", "simsiam"], "sslkit pretrain needs METHOD and DATASET"),
])
def test_user_errors_are_one_red_line_with_exit_code_2(tmp_path, args, message) -> None:
    result = runner.invoke(app, args + (["--out", str(tmp_path)] if args[0] == "pretrain" else []))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_missing_dataset_says_where_it_looked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = runner.invoke(app, ["pretrain", "simsiam", "cifar10", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "cifar10" in result.output and str(tmp_path / "nothing") in result.output


def test_debug_shows_the_traceback() -> None:
    result = runner.invoke(app, ["--debug", "pretrain", "simsam", "digits"])
    assert result.exit_code != 2 and result.exception is not None


def test_resume_needs_only_the_run_directory(tmp_path) -> None:
    args = ["pretrain", "simsiam", "digits", "--preset", "quick", "--steps", "2", "--batch-size", "32", "--out",
            str(tmp_path), "--name", "run", "--set", "num_workers=0", "--set", 'backbone_options={"width": 4}']
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, ["pretrain", "--resume", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "done: 2 steps" in result.output
