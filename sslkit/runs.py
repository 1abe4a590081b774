"""Open a finished (or interrupted) run: its config, and its method with the latest weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslkit import _registry
from sslkit.config import PretrainConfig
from sslkit.engine import checkpoint, rundir
from sslkit.engine.build import build_backbone, build_method
from sslkit.errors import SSLKitError
from sslkit.evaluate.records import is_number, read_eval_record
from sslkit.methods.base import Method


@dataclass
class Run:
    """A run directory with its resolved config and derived values."""

    path: Path
    config: PretrainConfig
    derived: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Read a run directory's config and check it against the newest checkpoint's.

        Raises:
            SSLKitError: ``path`` is missing or not a run, its config is invalid, or its config.json
                names another method/architecture than its checkpoints (it was edited).
        """
        path = Path(path)
        if not path.is_dir():
            raise SSLKitError(f"run directory {path} does not exist; check the path (runs are under --out, "
                              f"default runs/)")
        payload = rundir.read_config(path)
        try:
            config = PretrainConfig(**payload["config"])
        except (KeyError, TypeError) as error:
            raise SSLKitError(f"{path}/config.json is not an sslkit run config ({error}); restore it or start "
                              f"a new run") from error
        checkpoint.check_config(path, payload["config"])
        return cls(path, config, payload.get("derived", {}))

    def load_method(self) -> tuple[Method, int]:
        """Rebuild the method and load the newest checkpoint; returns ``(method, step)``."""
        state = checkpoint.load_latest(self.path)
        if state is None:
            raise SSLKitError(f"run {self.path} has no checkpoint yet; train it first "
                              f"(sslkit pretrain ... --resume {self.path})")
        cfg, derived = self.config, self.derived
        backbone = build_backbone(derived["backbone"], derived["channels"], derived["image_size"],
                                  cfg.backbone_options)
        method = build_method(_registry.load("methods", cfg.method), backbone, cfg.method_options)
        checkpoint.load_model_state(method, state, self.path)
        method.eval()
        return method, int(state["step"])


# Top-level metrics of an old-schema eval file (kNN before multi-seed evaluation): {"protocol": "knn", "top1": ..}.
_METRIC_LABELS = {"top1": "top-1", "top5": "top-5", "top1_best": "top-1 (best epoch)", "nmi": "NMI",
                  "acc": "ACC", "ari": "ARI"}
# The linear probe's train-split accuracy is bookkeeping, not a result for the card.
_NOT_RESULTS = frozenset({"train_top1"})


def eval_results(run: str | Path) -> list[dict[str, Any]]:
    """Rows of the model card's evaluation table (METHODS.md §2): ``run/eval/*.json`` and the kNN monitor.

    Both eval-file schemas are read: the multi-seed one (``metrics``/``std``/``seeds``; transfer files
    ``eval/transfer-<mode>-<dataset>.json`` add ``adaptation``) and the old kNN one (``top1`` at the top
    level). Every metric is a fraction shown as percent, except the bookkeeping outputs
    (``labelled``, ``clusters``, ``train_top1``), which are left out. Unreadable files are skipped. The
    last ``knn_top1`` of ``metrics.jsonl`` is a ``kNN monitor (epoch N)`` row.

    Returns:
        One dict per metric: ``evaluation`` (the file's name), ``dataset`` (with `` (<split>)`` unless the
        split is ``test``), ``metric``, ``value`` (percent with 2 decimals, ``"85.30 ± 0.20"`` over several
        seeds), ``seeds`` (how many) and, for a transfer, ``adaptation`` (list of strings).
    """
    rows: list[dict[str, Any]] = []
    for path in sorted((Path(run) / "eval").glob("*.json")):
        rows += _eval_file_rows(path)
    monitor = _knn_monitor_row(Path(run))
    return rows + ([monitor] if monitor else [])


def _eval_file_rows(path: Path) -> list[dict[str, Any]]:
    record = read_eval_record(path)
    if record is None:
        return []
    dataset = record.dataset + ("" if record.split == "test" else f" ({record.split})")
    base: dict[str, Any] = {"evaluation": record.name, "dataset": dataset}
    if record.adaptation is not None:
        base["adaptation"] = list(record.adaptation)
    return [{**base, "metric": _METRIC_LABELS.get(key, key), "value": _percent(value, record.std.get(key),
                                                                               record.seeds),
             "seeds": record.seeds} for key, value in record.metrics.items() if key not in _NOT_RESULTS]


def _knn_monitor_row(run: Path) -> dict[str, Any] | None:
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        return None
    last = None
    for line in metrics.read_text().splitlines():
        try:
            row = json.loads(line) if '"knn_top1"' in line else None
        except json.JSONDecodeError:  # a line cut off by an interrupted write
            continue
        if isinstance(row, dict) and is_number(row.get("knn_top1")):
            last = row
    if last is None:
        return None
    try:
        dataset = str(json.loads((run / "config.json").read_text())["config"]["dataset"])
    except (OSError, ValueError, KeyError, TypeError):
        dataset = "?"
    epoch = f" (epoch {last['epoch']})" if "epoch" in last else ""
    return {"evaluation": f"kNN monitor{epoch}", "dataset": dataset, "metric": "top-1",
            "value": _percent(last["knn_top1"], None, 1), "seeds": 1}


def _percent(value: float, std: Any, seeds: int) -> str:
    """A fraction as percent with 2 decimals, ``± std`` when there are several seeds."""
    text = f"{100 * value:.2f}"
    return text + (f" ± {100 * std:.2f}" if seeds > 1 and is_number(std) else "")


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, overwrite: bool = False, *,
               onnx: bool = False) -> Path:
    """Export the backbone of a run's newest checkpoint to ``out_dir`` (default ``RUN/export``).

    Writes ``model.safetensors``, ``config.json`` and a model card with the run's evaluation results
    (:func:`eval_results`); with ``onnx`` also ``model.onnx``, checked against PyTorch with ONNX Runtime.

    Raises:
        SSLKitError: Not a run, no checkpoint, the export folder exists (pass ``--force``), or ``onnx``
            and the ONNX packages are missing / the ONNX check fails.
    """
    from sslkit.export import write_export

    run = Run.open(run_dir)
    method, step = run.load_method()
    derived = run.derived
    meta = {"method": run.config.method, "dataset": run.config.dataset,
            "epochs": round(step / derived["steps_per_epoch"], 3), "recipe": run.config.to_dict(),
            "mean": derived["mean"], "std": derived["std"]}
    out = Path(out_dir) if out_dir is not None else run.path / "export"
    return write_export(method.backbone, out, meta=meta, eval_results=eval_results(run.path), overwrite=overwrite,
                        onnx=onnx)
