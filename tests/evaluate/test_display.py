"""The result table of `sslkit eval`: one seed gives values, several give mean ± std and each seed."""

from __future__ import annotations

from rich.console import Console

from sslkit.evaluate.display import print_result


def _shown(result: dict) -> str:
    console = Console(record=True, width=200, soft_wrap=True)  # as the CLI's console
    print_result(console, result)
    return console.export_text()


def test_one_seed_and_notes() -> None:
    text = _shown({"name": "knn", "dataset": "digits", "split": "test", "images": {"test": 297}, "seeds": [0],
                   "metrics": {"top1": 0.8621}, "std": {"top1": 0.0}, "per_seed": [{"seed": 0, "top1": 0.8621}],
                   "note": "knn is deterministic: evaluated once", "path": "runs/r/eval/knn.json"})
    assert "knn: digits (test split, 297 images, 1 seed)" in text and "86.21" in text and "±" not in text
    assert "note: knn is deterministic" in text and "-> runs/r/eval/knn.json" in text


def test_several_seeds_and_adaptation() -> None:
    text = _shown({"name": "cluster", "dataset": "cifar100", "split": "train+test", "images": {"train+test": 60000},
                   "seeds": [0, 1], "metrics": {"nmi": 0.5}, "std": {"nmi": 0.01},
                   "per_seed": [{"seed": 0, "nmi": 0.49}, {"seed": 1, "nmi": 0.51}],
                   "adaptation": ["RGB images converted to grey (BT.601 luma)"]})
    assert "(train+test, 60000 images, 2 seeds)" in text and "50.00 ± 1.00" in text and "49.00  51.00" in text
    assert "adaptation: RGB images converted to grey" in text
