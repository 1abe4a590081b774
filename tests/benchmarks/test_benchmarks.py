"""Each speed benchmark runs end to end at toy sizes and writes its JSON (a smoke test, never a timing)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TOY = ["--width", "2", "--batch", "8", "--repeats", "1", "--threads", "1"]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """Import a benchmark script as a module (they import their helpers from their own folder)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(BENCHMARKS.parent)

    def load(name: str):
        return importlib.import_module(name)

    threads = torch.get_num_threads()  # the benchmarks set it (--threads); later tests must not see that
    yield load
    torch.set_num_threads(threads)
    for name in ("step_vs_limit", "epoch_throughput", "augment_throughput", "_common"):
        sys.modules.pop(name, None)


def test_step_vs_limit_reports_every_method_against_its_limit(bench, tmp_path: Path) -> None:
    out = tmp_path / "step.json"
    bench("step_vs_limit").main([*TOY, "--methods", "simsiam,byol,dssl-simsiam", "--out", str(out)])
    payload = json.loads(out.read_text())
    rows = {row["method"]: row for row in payload["rows"]}
    assert set(rows) == {"simsiam", "byol", "dssl-simsiam"}
    assert all(row["ratio"] > 0 and row["limit_s"] > 0 for row in rows.values())
    assert rows["dssl-simsiam"]["views"] == "4x(8, 3, 32, 32)" and rows["simsiam"]["views"] == "2x(8, 3, 32, 32)"
    assert "ratio_with_ema_forward" in rows["byol"] and "ratio_with_ema_forward" not in rows["simsiam"]
    assert {"optimizer sgd fused", "ema update foreach"} <= set(payload["micro"])
    assert payload["machine"]["nproc"] >= 1 and "load_average_at_end" in payload


def test_epoch_throughput_compares_the_trainer_with_ready_views(bench, tmp_path: Path) -> None:
    out = tmp_path / "epoch.json"
    bench("epoch_throughput").main([*TOY, "--steps", "1", "--methods", "simsiam", "--out", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    assert row["method"] == "simsiam" and row["step_only_s"] > 0 and row["views_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["step_only_s"] / row["end_to_end_step_s"])


def test_augment_table_lists_every_registered_policy(bench, tmp_path: Path) -> None:
    out = tmp_path / "augment.json"
    bench("augment_throughput").main(["--table", "--batch", "4", "--repeats", "1", "--out", str(out)])
    rows = {row["policy"]: row for row in json.loads(out.read_text())["rows"]}
    assert {"simclr", "byol-1", "byol-2", "randaugment-dssl", "weak"} <= set(rows)
    assert all(row["views_per_s_1_threads"] > 0 for row in rows.values())
