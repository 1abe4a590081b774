"""Isolate every dataset test from the user's real data folders and caches."""

from __future__ import annotations

import pytest

from sslkit.data import _find


@pytest.fixture(autouse=True)
def isolated_data(tmp_path_factory, monkeypatch):
    """Point HOME at an empty folder, unset $SSLKIT_DATA and hide system dataset folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSLKIT_DATA", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(_find, "SYSTEM_DIRS", [])
    try:
        import datasets

        monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "hf-cache")
    except ImportError:  # pragma: no cover
        pass
    return home
