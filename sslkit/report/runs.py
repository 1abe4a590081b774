"""Read one run directory into what ``sslkit report`` shows: training curves and evaluation results.

A run directory (written by ``sslkit pretrain``) holds ``config.json`` (``config`` / ``derived`` /
``versions``), ``metrics.jsonl`` (log rows with ``loss`` and ``images_per_s``; epoch rows with the
kNN monitor's ``knn_top1``; other keys are ignored) and ``eval/*.json``, one file per evaluation
protocol of METHODS.md §2. Two schemas of eval files are read:

- new: ``{"protocol", "dataset", "seeds": [...], "metrics": {"top1": ...}, "std": {"top1": ...}}``
  (cluster files have ``nmi`` / ``acc`` / ``ari``; transfer files are
  ``eval/transfer-<mode>-<dataset>.json``);
- old (kNN before multi-seed evaluation): ``{"protocol": "knn", "top1": 0.83, ...}``.

A run without ``metrics.jsonl`` or ``eval/`` is still read; what it lacks is simply absent.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslkit.errors import SSLKitError
from sslkit.evaluate.records import is_number, read_eval_record

# Top-level keys of an old-schema eval file that are metrics (the rest is bookkeeping: k, bank, ...).
# Column names of the protocols the report knows; any other eval file becomes a column named after it.
_PROTOCOL_LABELS = {"knn": "kNN", "linear": "linear", "finetune": "finetune", "cluster": "cluster"}


@dataclass(frozen=True)
class Metric:
    """One result: a fraction in [0, 1], its std over seeds, and where it came from."""

    value: float
    std: float | None = None
    seeds: int = 1
    monitor: bool = False  # the kNN monitor of training, not an ``sslkit eval`` result

    def text(self) -> str:
        """Percent with two decimals, ``± std`` over several seeds, ``(monitor)`` for the kNN monitor."""
        text = f"{100 * self.value:.2f}"
        if self.seeds > 1 and self.std is not None:
            text += f" ± {100 * self.std:.2f}"
        return text + (" (monitor)" if self.monitor else "")


@dataclass
class RunSummary:
    """What the report needs from one run directory."""

    path: Path
    method: str
    dataset: str
    epochs: float | None  # last logged step / steps per epoch
    images_per_s: float | None  # median over the log rows
    loss: list[tuple[float, float]] = field(default_factory=list)  # (epoch, loss)
    knn_monitor: list[tuple[float, float]] = field(default_factory=list)  # (epoch, top-1 fraction)
    results: dict[str, Metric] = field(default_factory=dict)  # table column -> result


def read_run(path: str | Path) -> RunSummary:
    """Read ``path`` (a run directory) into a :class:`RunSummary`.

    Raises:
        SSLKitError: ``path`` is not a run directory (no ``config.json`` with a ``config`` block).
    """
    path = Path(path)
    payload = _read_config(path)
    config, derived = payload["config"], payload.get("derived", {})
    rows = read_metrics(path / "metrics.jsonl")
    per_epoch = derived.get("steps_per_epoch")
    results = {}
    for eval_path in sorted((path / "eval").glob("*.json")):
        results.update(read_eval(eval_path))
    knn = [(_epoch(row, per_epoch), float(row["knn_top1"])) for row in rows if is_number(row.get("knn_top1"))]
    if "kNN" not in results and knn:
        results["kNN"] = Metric(knn[-1][1], monitor=True)
    speeds = [float(row["images_per_s"]) for row in rows if is_number(row.get("images_per_s"))]
    return RunSummary(
        path=path,
        method=str(config.get("method", "?")),
        dataset=str(config.get("dataset", "?")),
        epochs=_last_epoch(rows, per_epoch),
        images_per_s=statistics.median(speeds) if speeds else None,
        loss=[(_epoch(row, per_epoch), float(row["loss"])) for row in rows if is_number(row.get("loss"))],
        knn_monitor=knn,
        results=results,
    )


def _read_config(path: Path) -> dict[str, Any]:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise SSLKitError(f"{path} is not an sslkit run (no config.json); pass directories `sslkit pretrain` wrote")
    try:
        payload = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise SSLKitError(f"{config_path} is not valid JSON ({error}); is {path} an sslkit run?") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise SSLKitError(f"{path} is not an sslkit run (its config.json has no 'config' block; an export "
                          f"directory cannot be reported, pass the run it came from)")
    return payload


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of ``metrics.jsonl``; a missing file is no rows, unreadable lines (a cut-off write) are skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_eval(path: Path) -> dict[str, Metric]:
    """Table columns of one ``eval/*.json`` file (either schema); an unreadable file gives none.

    A file with a ``top1`` metric gives one column (its label); otherwise one column per metric,
    ``"<label> <METRIC>"`` (``cluster NMI``, ``cluster ACC``, ``cluster ARI``).
    """
    record = read_eval_record(path)
    if record is None:
        return {}
    label = eval_label(path.stem)
    metrics = {"top1": record.metrics["top1"]} if "top1" in record.metrics else record.metrics
    single = list(metrics) == ["top1"]
    return {label if single else f"{label} {name.upper()}": Metric(value, record.std.get(name), record.seeds)
            for name, value in metrics.items()}


def eval_label(stem: str) -> str:
    """Column label of an eval file: ``knn`` -> ``kNN``, ``transfer-linear-cifar10`` -> ``transfer linear cifar10``."""
    if stem.startswith("transfer-"):
        mode, _, dataset = stem.removeprefix("transfer-").partition("-")
        return f"transfer {mode} {dataset}".strip()
    return _PROTOCOL_LABELS.get(stem, stem)


def _epoch(row: dict[str, Any], steps_per_epoch: float | None) -> float:
    """Training progress of a row in epochs: ``step / steps_per_epoch`` when known (the kNN row of a run that
    stops mid-epoch carries the epoch counter, not the fraction), else its ``epoch``, else its step."""
    if is_number(row.get("step")) and is_number(steps_per_epoch) and steps_per_epoch > 0:
        return float(row["step"]) / steps_per_epoch
    if is_number(row.get("epoch")):
        return float(row["epoch"])
    return float(row["step"]) if is_number(row.get("step")) else 0.0


def _last_epoch(rows: list[dict[str, Any]], steps_per_epoch: float | None) -> float | None:
    steps = [float(row["step"]) for row in rows if is_number(row.get("step"))]
    if steps and is_number(steps_per_epoch) and steps_per_epoch > 0:
        return max(steps) / steps_per_epoch
    epochs = [float(row["epoch"]) for row in rows if is_number(row.get("epoch"))]
    return max(epochs) if epochs else None

