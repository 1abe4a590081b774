"""The run directory (DESIGN.md §5): config.json, metrics.jsonl, checkpoints/, eval/, export/."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import torch

import sslkit
from sslkit.errors import SSLKitError

#: Free space asked for beyond the checkpoints: config.json, metrics.jsonl, eval files, an export.
MARGIN_BYTES = 16 * 2**20
#: Bytes of one checkpoint per byte of model state: the weights, the optimizer's state (up to two
#: moments for Adam) and a margin for queues and the pickled structure.
CHECKPOINT_FACTOR = 3


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """Estimated size of one checkpoint of ``model``: its parameters and buffers x :data:`CHECKPOINT_FACTOR`."""
    tensors = [*model.parameters(), *model.buffers()]
    return CHECKPOINT_FACTOR * sum(t.numel() * t.element_size() for t in tensors)


def needed_bytes(model: torch.nn.Module, keep: int) -> int:
    """Free space a run needs: ``keep`` checkpoints plus the one being written (atomic write), and a margin."""
    return checkpoint_bytes(model) * (max(keep, 1) + 1) + MARGIN_BYTES


def _existing_ancestor(path: Path) -> Path:
    """The nearest folder of ``path`` (itself included) that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def check_free_space(out_dir: str | Path, needed: int) -> None:
    """Raise SSLKitError when the disk holding ``out_dir`` has less than ``needed`` bytes free."""
    base = _existing_ancestor(Path(out_dir))
    if not base.is_dir():
        raise SSLKitError(f"cannot create the output folder {out_dir}: {base} is a file, not a folder; "
                          f"choose another --out")
    free = shutil.disk_usage(base).free
    if free < needed:
        raise SSLKitError(f"not enough disk space for {out_dir}: {_human(free)} free on the disk of {base}, "
                          f"the run needs about {_human(needed)} (checkpoints and logs); free some space "
                          f"or choose another --out")


def check_writable(out_dir: str | Path, needed: int = MARGIN_BYTES) -> None:
    """Check, before any training, that ``out_dir`` can be created and written and has ``needed`` bytes free.

    Creates ``out_dir`` (and missing parents), writes and deletes a probe file. Folders it created are
    removed again when a check fails, so a failed check leaves the disk as it was.

    Raises:
        SSLKitError: ``out_dir`` lies under a file, is not writable, or its disk lacks ``needed`` bytes.
    """
    out_dir = Path(out_dir)
    check_free_space(out_dir, needed)
    base = _existing_ancestor(out_dir)
    created = [p for p in [out_dir, *out_dir.absolute().parents] if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".sslkit-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        reason = error.strerror or type(error).__name__
        raise SSLKitError(f"cannot write to {out_dir} ({reason} in {base}); choose a writable --out "
                          f"or fix the folder's permissions") from error


def new_run_dir(out: str | Path, method: str, dataset: str, name: str | None,
                needed: int = MARGIN_BYTES) -> Path:
    """Create ``out/<name or method-dataset-timestamp>`` after :func:`check_writable` (``needed`` bytes free).

    Refuses an existing non-empty folder, so an earlier run is never overwritten.
    """
    safe_dataset = dataset.split(":", 1)[0]
    run = Path(out) / (name or f"{method}-{safe_dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    if run.is_file():
        raise SSLKitError(f"{run} is a file, not a run directory; choose another --name or --out")
    if run.exists() and any(run.iterdir()):
        raise SSLKitError(f"run directory {run} already exists; use --resume {run} or choose another --name")
    check_writable(run, needed)
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
    """The ``config.json`` of a run directory.

    Raises:
        SSLKitError: ``run`` has no readable ``config.json`` (it is not a run directory).
    """
    path = Path(run) / "config.json"
    if not path.is_file():
        raise SSLKitError(f"{run} is not an sslkit run directory (it has no config.json); pass the folder "
                          f"`sslkit pretrain` created, e.g. runs/<method>-<dataset>-<time>")
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SSLKitError(f"cannot read {path} ({error}); restore it from a backup or start a new run") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise SSLKitError(f"{path} is not an sslkit run config (no \"config\" mapping); pass the folder "
                          f"`sslkit pretrain` created")
    return payload


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
        """Drop records written after ``step`` (a resumed run replays those steps).

        A line cut short by a crash is dropped too. The log is rewritten to a temporary file and
        renamed over the old one, so a second crash during the rewrite never loses it.
        """
        if not self.enabled or not self.path.is_file():
            return
        kept = [line for line in self.path.read_text().splitlines() if _step_of(line, default=step + 1) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)


def _step_of(line: str, default: int) -> int:
    """The ``step`` of one metrics.jsonl line; ``default`` for a blank or torn (unparseable) line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return default
    return int(record.get("step", 0)) if isinstance(record, dict) else default
