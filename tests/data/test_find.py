"""Lookup order and the one-line "not found" message of :func:`find_dataset_dir`."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslkit.data import _find
from sslkit.data._find import check_no_path, check_split, download_dir, find_dataset_dir
from sslkit.errors import SSLKitError

REQUIRED = [["a.bin.gz", "a.bin"], "b.txt"]


def _make(folder: Path, plain: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("a.bin" if plain else "a.bin.gz")).write_bytes(b"x")
    (folder / "b.txt").write_text("y")
    return folder


def test_data_dir_itself_and_candidate_subfolder(tmp_path):
    assert find_dataset_dir("toy", ["toy"], REQUIRED, _make(tmp_path / "d", plain=True)) == tmp_path / "d"
    _make(tmp_path / "e" / "Toy" / "raw")
    expected = tmp_path / "e" / "Toy" / "raw"
    assert find_dataset_dir("toy", ["x", "Toy/raw"], REQUIRED, tmp_path / "e") == expected


def test_lookup_order(tmp_path, monkeypatch, isolated_data):
    home_copy = _make(isolated_data / ".cache" / "sslkit" / "toy")
    assert find_dataset_dir("toy", ["toy"], REQUIRED, None) == home_copy
    env_copy = _make(tmp_path / "env" / "toy")
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path / "env"))
    assert find_dataset_dir("toy", ["toy"], REQUIRED, None) == env_copy
    given = _make(tmp_path / "given")
    assert find_dataset_dir("toy", ["toy"], REQUIRED, given) == given
    # a data_dir without the files falls through to the next location
    assert find_dataset_dir("toy", ["toy"], REQUIRED, tmp_path / "empty") == env_copy


def test_system_dirs_come_last(tmp_path, monkeypatch, isolated_data):
    system = _make(tmp_path / "usr" / "toy")
    monkeypatch.setattr(_find, "SYSTEM_DIRS", [str(tmp_path / "usr")])
    assert find_dataset_dir("toy", ["toy"], REQUIRED, None) == system
    home_copy = _make(isolated_data / ".cache" / "sslkit" / "toy")
    assert find_dataset_dir("toy", ["toy"], REQUIRED, None) == home_copy


def test_incomplete_folder_is_skipped(tmp_path):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "a.bin").write_bytes(b"x")  # b.txt missing
    with pytest.raises(SSLKitError):
        find_dataset_dir("toy", ["toy"], REQUIRED, tmp_path)


def test_missing_message_is_one_line_and_lists_locations(tmp_path, monkeypatch, isolated_data):
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path / "env"))
    with pytest.raises(SSLKitError) as info:
        find_dataset_dir("toy", ["toy"], REQUIRED, tmp_path / "given", hint="Get it with `magic`")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("toy not found; looked in: ")
    for place in (tmp_path / "given", tmp_path / "env", isolated_data / ".cache" / "sslkit"):
        assert str(place) in message
    assert message.index(str(tmp_path / "given")) < message.index(str(tmp_path / "env"))
    assert message.endswith("Get it with `magic`")


def test_download_dir(tmp_path, monkeypatch, isolated_data):
    assert download_dir(None) == isolated_data / ".cache" / "sslkit"
    monkeypatch.setenv("SSLKIT_DATA", str(tmp_path))
    assert download_dir(None) == tmp_path
    assert download_dir(tmp_path / "x") == tmp_path / "x"


def test_split_and_path_checks():
    check_split("toy", "train", ["train", "test"])
    with pytest.raises(SSLKitError, match="valid splits: train, test"):
        check_split("toy", "val", ["train", "test"])
    check_no_path("toy", None)
    with pytest.raises(SSLKitError, match="takes no path"):
        check_no_path("toy", "/somewhere")
