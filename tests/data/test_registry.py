"""Every registered dataset factory (plugins included) honours the shared contract."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

import pytest

from sslkit.errors import SSLKitError

FACTORIES = sorted(entry_points(group="sslkit.datasets"), key=lambda ep: ep.name)
NEEDS_PATH = {"imagefolder", "hf"}


def test_builtin_names_are_registered():
    names = {ep.name for ep in FACTORIES}
    assert {"fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "digits", "imagefolder", "hf"} <= names


@pytest.mark.parametrize("entry", FACTORIES, ids=lambda ep: ep.name)
def test_signature(entry):
    params = inspect.signature(entry.load()).parameters
    assert list(params)[:4] == ["split", "data_dir", "download", "path"]
    assert params["split"].default == "train" and params["download"].default is False


@pytest.mark.parametrize("entry", FACTORIES, ids=lambda ep: ep.name)
def test_unknown_split_or_missing_data_is_one_line_error(entry, tmp_path):
    factory = entry.load()
    path = str(tmp_path) if entry.name in NEEDS_PATH else None
    with pytest.raises(SSLKitError) as info:
        factory("no-such-split", data_dir=tmp_path, path=path)
    assert "\n" not in str(info.value)
    if entry.name in NEEDS_PATH:
        with pytest.raises(SSLKitError, match="needs a"):
            factory()
    elif entry.name != "digits":
        with pytest.raises(SSLKitError, match="takes no path"):
            factory(path="somewhere")
        with pytest.raises(SSLKitError, match="not found; looked in"):
            factory(data_dir=tmp_path)
