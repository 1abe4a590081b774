"""Atomic, resumable checkpoints: ``checkpoints/step-XXXXXXXX.pt``, newest complete one wins.

A checkpoint is written to a temporary file, flushed to disk and then renamed, so an interrupted
write never leaves a broken checkpoint under a final name. Loading uses ``weights_only=True``: a
checkpoint is never unpickled as arbitrary Python.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from sslkit.errors import SSLKitError

_NAME = re.compile(r"^step-(\d{8})\.pt$")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save(run_dir: Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` atomically as the checkpoint of ``step`` and keep only the newest ``keep``."""
    directory = checkpoint_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:08d}.pt"
    tmp = directory / f".{final.name}.tmp"
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary files are ignored)."""
    directory = checkpoint_dir(run_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def load_latest(run_dir: Path) -> dict[str, Any] | None:
    """The newest loadable checkpoint's state, or None when the run has none."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged file: fall back to the previous one
            continue
    if list_checkpoints(run_dir):
        raise SSLKitError(f"every checkpoint in {checkpoint_dir(run_dir)} is unreadable; start a new run")
    return None
