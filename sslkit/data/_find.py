"""Finding dataset files on disk, and the checks every dataset factory shares.

Lookup order for a dataset's folder (first match wins):

1. ``data_dir`` (``--data-dir``): the folder itself, then each candidate subfolder of it;
2. ``$SSLKIT_DATA`` (same rule);
3. ``~/.cache/sslkit`` (same rule; also where ``--download`` puts files);
4. system locations where a distribution package installs datasets (:data:`SYSTEM_DIRS`, e.g.
   Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``).

A folder matches when it holds every required file (each given as a list of accepted names, e.g.
gzipped or not). A missing dataset is one :class:`~sslkit.errors.SSLKitError` line that lists where
it looked and how to get it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from sslkit.errors import SSLKitError

#: Where system packages install datasets (monkeypatched in tests, which never read the real ones).
SYSTEM_DIRS: list[str] = ["/usr/share/datasets"]

Required = Sequence[str | Sequence[str]]


def search_roots(data_dir: str | Path | None) -> list[Path]:
    """Return the base folders searched, in order: data_dir, $SSLKIT_DATA, ~/.cache/sslkit, system."""
    roots: list[Path] = []
    if data_dir:
        roots.append(Path(data_dir).expanduser())
    if os.environ.get("SSLKIT_DATA"):
        roots.append(Path(os.environ["SSLKIT_DATA"]).expanduser())
    roots.append(Path.home() / ".cache" / "sslkit")
    roots.extend(Path(p) for p in SYSTEM_DIRS)
    return roots


def download_dir(data_dir: str | Path | None) -> Path:
    """Return where ``--download`` writes: data_dir, else $SSLKIT_DATA, else ~/.cache/sslkit."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("SSLKIT_DATA"):
        return Path(os.environ["SSLKIT_DATA"]).expanduser()
    return Path.home() / ".cache" / "sslkit"


def find_file(folder: Path, alternatives: str | Sequence[str]) -> Path | None:
    """Return the first of ``alternatives`` that exists in ``folder`` (None if none does)."""
    names = [alternatives] if isinstance(alternatives, str) else list(alternatives)
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def find_dataset_dir(name: str, candidates: list[str], required: Required,
                     data_dir: str | Path | None, hint: str = "") -> Path:
    """Return the first folder that holds every required file of dataset ``name``.

    Args:
        name: the dataset's registry name (used in the error message).
        candidates: subfolders tried under each search root, e.g. ``["fashion-mnist",
            "FashionMNIST/raw"]``; the root itself is always tried first.
        required: the files that must exist; each entry is a name or a list of accepted names.
        data_dir: ``--data-dir``, searched first (None to skip).
        hint: how to get the dataset, appended to the error (e.g. ``"get it with `apt-get ...`"``).

    Raises:
        SSLKitError: no folder matches; the one-line message lists the folders searched.
    """
    looked: list[str] = []
    for root in search_roots(data_dir):
        for folder in [root, *(root / c for c in candidates)]:
            if folder.is_dir() and all(find_file(folder, alt) is not None for alt in required):
                return folder
        looked.append(str(root))
    subdirs = f" (and subfolders {', '.join(candidates)})" if candidates else ""
    message = f"{name} not found; looked in: {', '.join(looked)}{subdirs}."
    raise SSLKitError(f"{message} {hint}".strip())


def check_split(name: str, split: str, valid: Sequence[str]) -> None:
    """Raise :class:`SSLKitError` unless ``split`` is one of ``valid``."""
    if split not in valid:
        raise SSLKitError(f"{name} has no split {split!r}; valid splits: {', '.join(valid)}")


def check_no_path(name: str, path: str | None) -> None:
    """Raise :class:`SSLKitError` if a dataset that takes no path was given one (``name:path``)."""
    if path:
        raise SSLKitError(f"dataset {name} takes no path (got {name}:{path}); "
                          f"use --data-dir to say where its files are")


def fetch(name: str, download: Callable[[Path], object], dest: Path) -> None:
    """Run a torchvision-style ``download(dest)``; turn any failure into one :class:`SSLKitError`."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        download(dest)
    except Exception as error:  # network errors come in many types (URLError, OSError, ...)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SSLKitError(f"could not download {name} into {dest} ({first}); check the network, "
                          f"or put the files in $SSLKIT_DATA and drop --download") from error
