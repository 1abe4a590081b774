"""The run directory (DESIGN.md §5): config.json, metrics.jsonl, checkpoints/, eval/, export/."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

import sslkit
from sslkit.errors import SSLKitError


def new_run_dir(out: str | Path, method: str, dataset: str, name: str | None) -> Path:
    """Create ``out/<name or method-dataset-timestamp>``; refuses an existing non-empty folder."""
    safe_dataset = dataset.split(":", 1)[0]
    run = Path(out) / (name or f"{method}-{safe_dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    if run.exists() and any(run.iterdir()):
        raise SSLKitError(f"run directory {run} already exists; use --resume {run} or choose another --name")
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise SSLKitError(f"cannot write to {run}: {error.strerror}; choose a writable --out") from error
    return run


def versions() -> dict[str, str]:
    import accelerate
    import torchvision

    return {"sslkit": sslkit.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "accelerate": accelerate.__version__, "python": platform.python_version()}


def write_config(run: Path, config: dict[str, Any], derived: dict[str, Any]) -> None:
    """``config.json``: the resolved config, the derived values and the library versions."""
    payload = {"config": config, "derived": derived, "versions": versions()}
    (run / "config.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")


def read_config(run: Path) -> dict[str, Any]:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise SSLKitError(f"{run} is not an sslkit run directory (no config.json)")
    return json.loads(path.read_text())


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` (flushed, so a crash keeps the log)."""

    def __init__(self, run: Path, enabled: bool = True) -> None:
        self.path = Path(run) / "metrics.jsonl"
        self.enabled = enabled

    def write(self, **record: Any) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, default=float) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (a resumed run replays those steps)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))
