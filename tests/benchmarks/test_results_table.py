"""The results table's markdown: kNN and (when measured) linear columns, floors, mean ± std over seeds."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
FLOORS = {"dataset": "fashion-mnist", "backbone": "smallcnn", "backbone_options": {"width": 32},
          "raw_pixels": 0.8178, "random_init": 0.78, "random_init_seeds": [0.78, 0.78, 0.78],
          "linear_raw_pixels": 0.8406, "linear_random_init": 0.8288}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield importlib.import_module("results_table")
    sys.modules.pop("results_table", None)


def _row(knn: list[float], linear: list[float] | None) -> dict:
    seeds = {str(i): {"knn_top1": k, "train_seconds": 180.0, **({"linear_top1": linear[i]} if linear else {})}
             for i, k in enumerate(knn)}
    return {"method": "simsiam", "steps": 100, "epochs": 2.0, "command": "sslkit pretrain simsiam", "seeds": seeds}


def test_linear_column_and_floors(table) -> None:
    lines = table.markdown({"simsiam": _row([0.83, 0.84], [0.87, 0.88])}, FLOORS).splitlines()
    assert lines[0].startswith("| method | kNN top-1 (%) | linear top-1 (%) | seeds |")
    assert "| *84.06* |" in lines[2] and "--linear`" in lines[2] and "| *82.88* |" in lines[3]
    assert lines[4].startswith("| simsiam | **83.50 ± 0.71** | 87.50 ± 0.71 | 0,1 | +5.50 |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_without_linear_results_the_table_keeps_its_columns(table) -> None:
    lines = table.markdown({"simsiam": _row([0.83], None)}, FLOORS).splitlines()
    assert "linear" not in lines[0]
    assert lines[4].startswith("| simsiam | **83.00** | 0 |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
