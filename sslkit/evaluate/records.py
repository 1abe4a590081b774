"""Read one ``RUN/eval/<name>.json`` result, whichever schema wrote it, for the model card and reports.

Two schemas exist: the current one of :func:`sslkit.evaluate.protocols.evaluate` (``metrics``, ``std``,
``seeds``, ``counts``, ``adaptation`` ...) and the first kNN files (``top1`` at the top level).
:func:`read_eval_record` gives both the same shape; a file that cannot be read gives None.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OLD_SCHEMA_METRICS = ("top1", "top5", "nmi", "acc", "ari")
COUNTS = ("labelled", "clusters")  # counts some files of this version's development kept among metrics


@dataclass(frozen=True)
class EvalRecord:
    """One evaluation result: metric -> fraction (mean over seeds) and its sample std over ``seeds`` runs."""

    name: str
    dataset: str
    split: str
    metrics: dict[str, float]
    std: dict[str, float]
    seeds: int
    adaptation: tuple[str, ...] | None = None


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_eval_record(path: str | Path) -> EvalRecord | None:
    """The result in ``path`` (either schema), or None when the file is unreadable or not a result."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("metrics"), dict):
        metrics = {k: float(v) for k, v in record["metrics"].items() if is_number(v) and k not in COUNTS}
        given = record.get("std") if isinstance(record.get("std"), dict) else {}
        std = {k: float(v) for k, v in given.items() if is_number(v)}
        seeds = len(record["seeds"]) if isinstance(record.get("seeds"), list) and record["seeds"] else 1
    else:
        metrics = {k: float(record[k]) for k in OLD_SCHEMA_METRICS if is_number(record.get(k))}
        std, seeds = {}, 1
    adaptation = record.get("adaptation")
    return EvalRecord(name=str(record.get("name") or path.stem), dataset=str(record.get("dataset", "?")),
                      split=str(record.get("split", "test")), metrics=metrics, std=std, seeds=seeds,
                      adaptation=tuple(str(a) for a in adaptation) if isinstance(adaptation, list) else None)
