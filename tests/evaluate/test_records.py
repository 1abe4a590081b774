"""One reader for both eval-file schemas (the model card and `sslkit report` use it)."""

from __future__ import annotations

import json
from pathlib import Path

from sslkit.evaluate.records import EvalRecord, read_eval_record


def _write(path: Path, record: object) -> Path:
    path.write_text(json.dumps(record) if not isinstance(record, str) else record)
    return path


def test_current_schema(tmp_path: Path) -> None:
    path = _write(tmp_path / "transfer-linear-digits.json", {
        "name": "transfer-linear-digits", "dataset": "digits", "split": "test", "seeds": [0, 1],
        "metrics": {"top1": 0.9, "train_top1": 1.0, "labelled": 1500.0}, "std": {"top1": 0.01},
        "adaptation": ["images resized"]})
    assert read_eval_record(path) == EvalRecord("transfer-linear-digits", "digits", "test",
                                                {"top1": 0.9, "train_top1": 1.0}, {"top1": 0.01}, 2,
                                                ("images resized",))


def test_first_knn_schema_and_unreadable_files(tmp_path: Path) -> None:
    old = read_eval_record(_write(tmp_path / "knn.json", {"protocol": "knn", "dataset": "cifar10", "top1": 0.8,
                                                          "k": 200}))
    assert old == EvalRecord("knn", "cifar10", "test", {"top1": 0.8}, {}, 1)
    assert read_eval_record(_write(tmp_path / "cut.json", '{"metrics": {"top1": 0.')) is None
    assert read_eval_record(_write(tmp_path / "list.json", [1, 2])) is None
    assert read_eval_record(tmp_path / "missing.json") is None
