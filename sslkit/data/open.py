"""Resolve a CLI dataset spec (``cifar10``, ``imagefolder:/data/pets``, ``hf:/data/saved``) to a Source."""

from __future__ import annotations

from pathlib import Path

from sslkit import _registry
from sslkit.data.base import Source


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"imagefolder:/x"`` -> ``("imagefolder", "/x")``; an existing directory means imagefolder."""
    name, sep, arg = spec.partition(":")
    if not sep and name not in _registry.names("datasets") and Path(spec).is_dir():
        return "imagefolder", spec
    return name, (arg or None) if sep else None


def open_source(spec: str, split: str = "train", data_dir: str | Path | None = None,
                download: bool = False) -> Source:
    """Load ``split`` of the dataset named by ``spec`` through the ``sslkit.datasets`` registry."""
    name, path = split_spec(spec)
    factory = _registry.load("datasets", name)
    kwargs = {"split": split, "data_dir": data_dir, "download": download}
    if path is not None:
        kwargs["path"] = path
    return factory(**kwargs)
