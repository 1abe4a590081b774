"""The run directory: creation, the writability and free-space checks, config reading, checkpoint checks."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn

from sslkit.engine import checkpoint, rundir
from sslkit.errors import SSLKitError

Usage = namedtuple("Usage", "total used free")


def test_needed_bytes_counts_parameters_buffers_and_kept_checkpoints() -> None:
    model = nn.Sequential(nn.Linear(10, 10), nn.BatchNorm1d(10))  # 110 + 20 params, 20 + 1 buffers
    state_bytes = (110 + 20 + 20) * 4 + 1 * 8  # num_batches_tracked is int64
    assert rundir.checkpoint_bytes(model) == rundir.CHECKPOINT_FACTOR * state_bytes
    assert rundir.needed_bytes(model, keep=2) == 3 * rundir.checkpoint_bytes(model) + rundir.MARGIN_BYTES


def test_needed_bytes_covers_a_real_checkpoint(tmp_path: Path) -> None:
    model = nn.Linear(64, 64)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 64)).sum().backward()
    optimizer.step()
    path = checkpoint.save(tmp_path, 1, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                         "step": 1, "config": {"method": "x"}})
    assert path.stat().st_size <= rundir.checkpoint_bytes(model) + 4096  # + the pickled structure


def test_new_run_dir_probes_and_leaves_only_the_folder(tmp_path: Path) -> None:
    run = rundir.new_run_dir(tmp_path / "a" / "b", "simsiam", "imagefolder:/x", "r")
    assert run == tmp_path / "a" / "b" / "r" and run.is_dir() and list(run.iterdir()) == []


def test_new_run_dir_refuses_an_existing_run(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    with pytest.raises(SSLKitError, match="already exists; use --resume"):
        rundir.new_run_dir(tmp_path, "simsiam", "digits", "r")
    assert (tmp_path / "r" / "config.json").read_text() == "{}"


def test_check_writable_under_a_file_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SSLKitError, match="is a file, not a folder; choose another --out"):
        rundir.check_writable(tmp_path / "file" / "runs" / "r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_failed_probe_removes_the_folders_it_created(tmp_path: Path, monkeypatch) -> None:
    def refuse(self, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(SSLKitError, match="cannot write to .*Permission denied.*choose a writable --out"):
        rundir.check_writable(tmp_path / "new" / "runs" / "r")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_is_refused_before_anything_is_created(tmp_path: Path, monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: seen.append(Path(path)) or Usage(100, 99, 2**20))
    with pytest.raises(SSLKitError, match=r"1\.0 MiB free .* needs about 2\.0 MiB.*free some space"):
        rundir.check_writable(tmp_path / "runs" / "r", needed=2 * 2**20)
    assert seen == [tmp_path] and list(tmp_path.iterdir()) == []  # asked about the disk that exists
    rundir.check_writable(tmp_path / "runs" / "r", needed=2**20)  # exactly enough is fine
    assert (tmp_path / "runs" / "r").is_dir()


@pytest.mark.parametrize("content,message", [
    (None, "has no config.json"),
    ("{not json", "cannot read"),
    ('["a list"]', "not an sslkit run config"),
])
def test_read_config_errors(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(SSLKitError, match=message):
        rundir.read_config(tmp_path)


def test_check_config_compares_architecture_keys_only(tmp_path: Path) -> None:
    config = {"method": "simsiam", "backbone": "smallcnn", "backbone_options": {"width": 4},
              "method_options": {}, "lr": 0.1}
    checkpoint.save(tmp_path, 5, {"model": {}, "step": 5, "config": config})
    checkpoint.check_config(tmp_path, {**config, "lr": 0.5, "steps": 100})  # training values may change
    with pytest.raises(SSLKitError, match="says backbone_options .*'width': 8.* trained with .*'width': 4"):
        checkpoint.check_config(tmp_path, {**config, "backbone_options": {"width": 8}})


@pytest.mark.filterwarnings("ignore:checkpoint .* is damaged")
def test_damaged_newest_checkpoint_falls_back_but_unsafe_one_is_refused(tmp_path: Path) -> None:
    checkpoint.save(tmp_path, 1, {"model": {"w": torch.ones(2)}, "step": 1})
    whole = checkpoint.save(tmp_path, 2, {"model": {"w": torch.ones(2)}, "step": 2}).read_bytes()
    newest = checkpoint.checkpoint_dir(tmp_path) / "step-00000002.pt"
    newest.write_bytes(whole[: len(whole) // 2])  # a damaged disk: the previous checkpoint is used
    assert checkpoint.load_latest(tmp_path)["step"] == 1
    newest.write_bytes(b"garbage from a damaged disk")
    assert checkpoint.load_latest(tmp_path)["step"] == 1
    torch.save({"model": Path("x"), "step": 2}, newest)  # an arbitrary object: refused, no silent fallback
    with pytest.raises(SSLKitError, match="step-00000002.pt is not an sslkit checkpoint .*PosixPath"):
        checkpoint.load_latest(tmp_path)


def test_load_model_state_mismatch_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(SSLKitError, match="does not fit the model"):
        checkpoint.load_model_state(nn.Linear(3, 3), {"model": nn.Linear(4, 4).state_dict()}, tmp_path)
