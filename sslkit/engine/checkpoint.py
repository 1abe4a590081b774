"""Atomic, resumable checkpoints: ``checkpoints/step-XXXXXXXX.pt``, newest complete one wins.

A checkpoint is written to a temporary file, flushed to disk and then renamed, so an interrupted
write never leaves a broken checkpoint under a final name. Loading uses ``weights_only=True``: a
checkpoint is never unpickled as arbitrary Python.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Callable
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


_PICKLE_PROTOCOL = 0x80  # first byte of a plain pickle (protocol 2+); torch.save writes a zip file ("PK")


def _refusal(error: Exception) -> str | None:
    """Why ``torch.load(weights_only=True)`` refused a file that names an arbitrary global (its
    ``... GLOBAL module.name ...`` line), or None when the error is anything else (a damaged file)."""
    if not isinstance(error, pickle.UnpicklingError) or "weights only load failed" not in str(error).lower():
        return None
    return next((line.strip() for line in str(error).splitlines() if "GLOBAL" in line), None)


def _refuse(path: Path, reason: str) -> SSLKitError:
    return SSLKitError(f"{path} is not an sslkit checkpoint ({reason}); sslkit never unpickles arbitrary "
                       f"objects, which could run code: delete it and resume from an earlier checkpoint, or "
                       f"start a new run")


def load_file(path: Path, mmap: bool = False) -> dict[str, Any]:
    """Load one checkpoint file with ``weights_only=True`` (tensors and plain containers only).

    A plain pickle (not the zip file ``torch.save`` writes) is refused without being read.

    Raises:
        SSLKitError: the file is a plain pickle, or ``torch.load`` refused it because it names an
            arbitrary global (e.g. a pickle that would run code): nothing in it was run.
        Exception: whatever ``torch.load`` raises for a damaged file (callers fall back or report it).
    """
    with open(path, "rb") as handle:
        if handle.read(1) == bytes([_PICKLE_PROTOCOL]):
            raise _refuse(path, "it is a plain pickle, not a torch.save zip file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise on the user's console
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        reason = _refusal(error)
        if reason is None:
            raise
        raise _refuse(path, f"loading with weights_only=True refused it: {reason}") from None
    if not isinstance(state, dict):
        raise SSLKitError(f"{path} holds a {type(state).__name__}, not an sslkit checkpoint; delete it")
    return state


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


def load_latest(run_dir: Path, on_damaged: Callable[[str], None] | None = None) -> dict[str, Any] | None:
    """The newest loadable checkpoint's state, or None when the run has none.

    A damaged file (truncated, garbled) is skipped in favour of the previous checkpoint, and
    ``on_damaged`` (default: a ``UserWarning``) is told which one and why; a file that holds arbitrary
    pickled objects is refused with an SSLKitError and never unpickled.
    """
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return load_file(path)
        except SSLKitError:
            raise
        except Exception as error:  # noqa: BLE001 - a damaged file: fall back to the previous one
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            (on_damaged or _warn)(f"checkpoint {path} is damaged ({reason}); falling back to the previous one")
    if list_checkpoints(run_dir):
        raise SSLKitError(f"every checkpoint in {checkpoint_dir(run_dir)} is unreadable; start a new run")
    return None


#: Config keys that fix the shapes of a checkpoint's tensors: a run resumed or evaluated with other
#: values cannot load it.
ARCHITECTURE_KEYS = ("method", "backbone", "backbone_options", "method_options")


def check_config(run_dir: Path, config: dict[str, Any]) -> None:
    """Refuse a run whose ``config.json`` disagrees with its newest checkpoint on :data:`ARCHITECTURE_KEYS`.

    Reads only the checkpoint's saved config (the tensors are memory-mapped, not read). Checkpoints
    without a saved config, or that cannot be read, are left to :func:`load_latest`.

    Raises:
        SSLKitError: naming the key, both values and how to fix it.
    """
    files = list_checkpoints(run_dir)
    if not files:
        return
    try:
        saved = load_file(files[-1], mmap=True).get("config")
    except SSLKitError:
        raise
    except Exception:  # noqa: BLE001 - damaged: load_latest falls back or reports it
        return
    if not isinstance(saved, dict):
        return
    for key in ARCHITECTURE_KEYS:
        if key in saved and saved[key] != config.get(key):
            raise SSLKitError(
                f"{Path(run_dir) / 'config.json'} says {key} {config.get(key)!r} but checkpoint {files[-1].name} "
                f"was trained with {saved[key]!r}; restore {key} in config.json, or start a new run "
                f"(sslkit pretrain {config.get('method')} ...) instead of reusing this one")


def load_model_state(model: torch.nn.Module, state: dict[str, Any], run_dir: Path) -> None:
    """``model.load_state_dict(state["model"])``, turning a shape or key mismatch into an SSLKitError."""
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SSLKitError(f"the checkpoint in {checkpoint_dir(run_dir)} does not fit the model that "
                          f"{Path(run_dir) / 'config.json'} describes ({first}); restore config.json or "
                          f"start a new run") from error
