"""The model card's evaluation table from hand-written ``RUN/eval/*.json`` files (both schemas)."""

from __future__ import annotations

import json
from pathlib import Path

from sslkit.export import write_export
from sslkit.models import smallcnn
from sslkit.runs import eval_results

META = {"method": "simsiam", "dataset": "fashion-mnist", "epochs": 3, "recipe": {}}

LINEAR = {"protocol": "linear", "name": "linear", "dataset": "fashion-mnist", "split": "test", "seeds": [0, 1, 2],
          "metrics": {"top1": 0.853, "top1_best": 0.86, "train_top1": 0.9},
          "std": {"top1": 0.002, "top1_best": 0.001, "train_top1": 0.01},
          "per_seed": [{"seed": 0, "top1": 0.851}, {"seed": 1, "top1": 0.853}, {"seed": 2, "top1": 0.855}],
          "options": {"epochs": 100}, "backbone": "runs/x (step 10)", "seconds": 12.3}
TRANSFER = {"protocol": "linear", "dataset": "cifar10", "split": "test", "seeds": [0], "metrics": {"top1": 0.41234},
            "std": {"top1": 0.0}, "per_seed": [{"seed": 0, "top1": 0.41234}], "options": {}, "seconds": 3.0,
            "mode": "linear", "adaptation": ["resized 28 -> 32 px", "grey -> RGB (repeat)"]}
CLUSTER = {"protocol": "cluster", "dataset": "fashion-mnist", "split": "val", "seeds": [0, 1],
           "metrics": {"nmi": 0.5, "acc": 0.61, "ari": 0.4, "clusters": 10.0},
           "std": {"nmi": 0.01, "acc": 0.02, "ari": 0.03, "clusters": 0.0}}
OLD_KNN = {"protocol": "knn", "dataset": "fashion-mnist", "split": "test", "top1": 0.8123, "k": 200,
           "temperature": 0.1, "queries": 10000}


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    files = {"linear": LINEAR, "transfer-linear-cifar10": TRANSFER, "cluster": CLUSTER, "knn": OLD_KNN}
    for name, record in files.items():
        (run / "eval" / f"{name}.json").write_text(json.dumps(record))
    (run / "eval" / "broken.json").write_text('{"protocol": "lin')  # cut-off write: skipped
    (run / "config.json").write_text(json.dumps({"config": {"dataset": "fashion-mnist"}, "derived": {}}))
    lines = [{"step": 5, "loss": 1.0}, {"step": 10, "epoch": 1, "knn_top1": 0.7}, {"step": 20, "epoch": 2,
                                                                                  "knn_top1": 0.75}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + '\n{"step": 2')
    return run


def test_rows_from_both_schemas_and_the_monitor(tmp_path: Path) -> None:
    rows = eval_results(_run(tmp_path))
    table = [(r["evaluation"], r["dataset"], r["metric"], r["value"], r["seeds"]) for r in rows]
    assert table == [
        ("cluster", "fashion-mnist (val)", "NMI", "50.00 ± 1.00", 2),
        ("cluster", "fashion-mnist (val)", "ACC", "61.00 ± 2.00", 2),
        ("cluster", "fashion-mnist (val)", "ARI", "40.00 ± 3.00", 2),
        ("knn", "fashion-mnist", "top-1", "81.23", 1),
        ("linear", "fashion-mnist", "top-1", "85.30 ± 0.20", 3),
        ("linear", "fashion-mnist", "top-1 (best epoch)", "86.00 ± 0.10", 3),
        ("transfer-linear-cifar10", "cifar10", "top-1", "41.23", 1),
        ("kNN monitor (epoch 2)", "fashion-mnist", "top-1", "75.00", 1),
    ]
    assert rows[6]["adaptation"] == TRANSFER["adaptation"] and "adaptation" not in rows[4]


def test_no_eval_no_rows(tmp_path: Path) -> None:
    assert eval_results(tmp_path) == []


def test_model_card_table(tmp_path: Path) -> None:
    out = write_export(smallcnn(1, 28, width=8), tmp_path / "e", meta=META, eval_results=eval_results(_run(tmp_path)))
    card = (out / "README.md").read_text()
    section = card[card.index("## Evaluation"):card.index("## Training recipe")]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0] == "| evaluation | dataset | metric | value | seeds |"
    assert lines[2] == "| cluster | fashion-mnist (val) | NMI | 50.00 ± 1.00 | 2 |"
    assert "| linear | fashion-mnist | top-1 | 85.30 ± 0.20 | 3 |" in lines
    assert lines[-1] == "| kNN monitor (epoch 2) | fashion-mnist | top-1 | 75.00 | 1 |"
    assert len(lines) == 2 + 8 and all(line.count("|") == 6 for line in lines)
    assert "- transfer-linear-cifar10: resized 28 -> 32 px; grey -> RGB (repeat)" in section
