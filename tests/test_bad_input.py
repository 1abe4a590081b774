"""Bad input, a catalogue (issue 5): each case is one line saying what is wrong and how to fix it.

Every case goes through the CLI and checks the same contract: exit code 2, exactly one non-empty
output line holding the expected fragments (what is wrong AND the fix), no traceback, and nothing
already written is lost (the bytes of every file under the test folder are compared before and
after). Untrusted files are never unpickled: a malicious checkpoint or CIFAR batch is refused and
its payload does not run.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
import shutil
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sslkit import _registry
from sslkit.cli import app
from sslkit.data import _find
from tests.formats import (
    fake_idx,
    write_cifar10,
    write_cifar100,
    write_hf_saved,
    write_imagefolder,
    write_stl10,
)
from tests.test_registry import fake_ep

runner = CliRunner()
TINY = ["--preset", "quick", "--steps", "2", "--batch-size", "16", "--set", "num_workers=0",
        "--set", 'backbone_options={"width": 4}']


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """No real dataset folders, caches or network: only what a test writes is found."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("SSLKIT_DATA", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(_find, "SYSTEM_DIRS", [])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with an earlier run in ``runs/previous`` that no failed command may touch."""
    previous = tmp_path / "runs" / "previous"
    (previous / "checkpoints").mkdir(parents=True)
    (previous / "config.json").write_text('{"config": {"method": "simsiam"}}\n')
    (previous / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    (previous / "checkpoints" / "step-00000001.pt").write_bytes(b"earlier weights")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (folders are implied)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit code 2, one non-empty line holding every fragment, no traceback; returns the line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def invoke_unchanged(root: Path, args: list[str]):
    """Run the CLI and check that no file under ``root`` appeared, vanished or changed."""
    before = snapshot(root)
    result = runner.invoke(app, args)
    assert snapshot(root) == before, "a failed command wrote or removed files"
    return result


# ---------------------------------------------------------------------------------------------- names, flags, values

FLAG_CASES = {
    "unknown method": (["pretrain", "simsam", "digits"], ["unknown method 'simsam'", "did you mean 'simsiam'"]),
    "unknown policy": (["pretrain", "simsiam", "digits", *TINY, "--aug", "standard=simclrr"],
                       ["unknown augmentation 'simclrr'", "did you mean 'simclr'", "valid augmentations"]),
    "unknown dataset": (["pretrain", "simsiam", "cifar11", *TINY],
                        ["unknown dataset 'cifar11'", "did you mean 'cifar10'"]),
    "unknown backbone": (["pretrain", "simsiam", "digits", *TINY, "--backbone", "resnet19"],
                         ["unknown backbone 'resnet19'", "did you mean 'resnet18'"]),
    "unknown preset": (["pretrain", "simsiam", "digits", "--preset", "quik"],
                       ["no preset 'quik'", "presets: paper, quick"]),
    "unknown --set key": (["pretrain", "simsiam", "digits", *TINY, "--set", "proj_dimm=8"],
                          ["no option proj_dimm", "its options:", "proj_dim"]),
    "--aug without =": (["pretrain", "simsiam", "digits", *TINY, "--aug", "nonsense"],
                        ["--aug expects ROLE=POLICY", "got 'nonsense'", "e.g. --aug standard=simclr"]),
    "--aug option without =": (["pretrain", "simsiam", "digits", *TINY, "--aug", "standard=simclr:jitter"],
                               ["--aug expects key=value", "got 'jitter'", "e.g. --aug standard=simclr:jitter=0.4"]),
    "--aug unknown option": (["pretrain", "simsiam", "digits", *TINY, "--aug", "standard=simclr:jiter=0.5"],
                             ["unknown option(s) jiter", "valid keys", "jitter"]),
    "--aug option wrong type": (["pretrain", "simsiam", "digits", *TINY, "--aug", "standard=simclr:jitter=abc"],
                                ["jitter='abc'", "must be a number"]),
    "--set without =": (["pretrain", "simsiam", "digits", *TINY, "--set", "lr"],
                        ["--set expects key=value", "got 'lr'", "e.g. --set lr=0.05"]),
    "--set empty key": (["pretrain", "simsiam", "digits", *TINY, "--set", "=3"], ["--set expects key=value"]),
    "--set method option wrong type": (["pretrain", "simsiam", "digits", *TINY, "--set", "proj_dim=abc"],
                                       ["method SimSiam cannot be built with options", "fix the --set values"]),
    "--set lr=abc": (["pretrain", "simsiam", "digits", *TINY, "--set", "lr=abc"],
                     ["lr must be a number, got 'abc'"]),
    "--set epochs=1.5": (["pretrain", "simsiam", "digits", *TINY, "--set", "epochs=1.5"],
                         ["epochs must be an integer, got 1.5"]),
    "--set dict field not a dict": (["pretrain", "simsiam", "digits", *TINY, "--set", "backbone_options=3"],
                                    ["backbone-options must be a dict, got 3"]),
    "--lr 0": (["pretrain", "simsiam", "digits", *TINY, "--lr", "0"], ["lr must be a positive number, got 0"]),
    "--lr -1": (["pretrain", "simsiam", "digits", *TINY, "--lr", "-1"], ["lr must be a positive number"]),
    "--epochs 0": (["pretrain", "simsiam", "digits", "--preset", "quick", "--epochs", "0"],
                   ["epochs must be a positive number, got 0"]),
    "--epochs -3": (["pretrain", "simsiam", "digits", "--preset", "quick", "--epochs", "-3"],
                    ["epochs must be a positive number, got -3"]),
    "--steps 0": (["pretrain", "simsiam", "digits", "--preset", "quick", "--steps", "0"],
                  ["steps must be a positive number, got 0"]),
    "--batch-size 0": (["pretrain", "simsiam", "digits", "--preset", "quick", "--batch-size", "0"],
                       ["batch-size must be a positive number, got 0"]),
    "--batch-size -8": (["pretrain", "simsiam", "digits", "--preset", "quick", "--batch-size", "-8"],
                        ["batch-size must be a positive number, got -8"]),
    "batch larger than the dataset": (["pretrain", "simsiam", "digits", "--preset", "quick", "--batch-size",
                                       "100000", "--set", "num_workers=0"],
                                      ["batch size 100000 is larger than the dataset", "lower --batch-size"]),
    "--knn-every -1": (["pretrain", "simsiam", "digits", *TINY, "--knn-every", "-1"],
                       ["knn-every must be >= 0, got -1"]),
    "--precision fp8": (["pretrain", "simsiam", "digits", *TINY, "--precision", "fp8"],
                        ["precision must be one of auto, fp32, bf16, fp16, got 'fp8'"]),
    "--resume of a folder that is not a run": (["pretrain", "simsiam", "digits", "--resume", "{root}/runs"],
                                               ["is not an sslkit run directory", "no config.json",
                                                "pass the folder `sslkit pretrain` created"]),
    "--resume of a missing folder": (["pretrain", "simsiam", "digits", "--resume", "{root}/runs/nope"],
                                     ["run directory", "does not exist", "check the path"]),
}


@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_bad_name_flag_or_value(workspace: Path, case: str) -> None:
    args, fragments = FLAG_CASES[case]
    args = [a.replace("{root}", str(workspace)) for a in args]
    if "--resume" not in args:
        args += ["--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), *fragments)


# ---------------------------------------------------------------------------------------------- corrupt dataset files

def _cut(file: Path, keep: float = 0.5) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * keep)])


def _idx(gz: bool, damage: str):
    def make(folder: Path) -> tuple[str, str]:
        fake_idx(folder, n_train=20, n_test=10, gz=gz)
        file = folder / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
        if damage == "truncated":
            _cut(file)
        elif gz:
            file.write_bytes(b"\x1f\x8b" + os.urandom(200))  # gzip magic, garbage stream
        else:
            file.write_bytes(b"\x12\x34\x56\x78" + file.read_bytes()[4:])  # wrong magic number
        return "fashion-mnist", file.name
    return make


def _cifar(writer, subdir: str, batch: str, damage: str):
    def make(folder: Path) -> tuple[str, str]:
        writer(folder, n_train=40, n_test=10)
        file = folder / subdir / batch
        if damage == "truncated":
            _cut(file)
        else:
            file.write_bytes(os.urandom(500))
        return ("cifar10" if "10-" in subdir else "cifar100"), batch
    return make


def _stl10(damage: str):
    def make(folder: Path) -> tuple[str, str]:
        write_stl10(folder, n_train=20, n_test=8)
        root = folder / "stl10_binary"
        if damage == "truncated":
            (root / "train_X.bin").write_bytes((root / "train_X.bin").read_bytes()[:-100])
            return "stl10", "train_X.bin"
        (root / "train_y.bin").write_bytes(bytes([200] * 20))  # labels must be 1..10
        return "stl10", "train_y.bin"
    return make


def _imagefolder_corrupt(folder: Path) -> tuple[str, str]:
    write_imagefolder(folder / "pets", per_class=8)
    (folder / "pets" / "cat" / "broken.png").write_bytes(b"this is not a PNG")
    return f"imagefolder:{folder / 'pets'}", "broken.png"


def _hf_broken_arrow(folder: Path) -> tuple[str, str]:
    write_hf_saved(folder / "saved", n_train=20, n_test=4)
    arrow = next((folder / "saved" / "train").glob("*.arrow"))
    arrow.write_bytes(b"ARROW1" + os.urandom(300))
    return f"hf:{folder / 'saved'}", "save it again with save_to_disk"


DATASET_CASES = {
    "idx gz corrupt": (_idx(True, "corrupt"), "delete it and get the dataset again"),
    "idx gz truncated": (_idx(True, "truncated"), "delete it and get the dataset again"),
    "idx raw corrupt": (_idx(False, "corrupt"), "not an IDX file"),
    "idx raw truncated": (_idx(False, "truncated"), "is truncated"),
    "cifar10 corrupt": (_cifar(write_cifar10, "cifar-10-batches-py", "data_batch_2", "corrupt"),
                        "delete it and get the dataset again"),
    "cifar10 truncated": (_cifar(write_cifar10, "cifar-10-batches-py", "data_batch_5", "truncated"),
                          "delete it and get the dataset again"),
    "cifar100 corrupt": (_cifar(write_cifar100, "cifar-100-python", "train", "corrupt"),
                         "delete it and get the dataset again"),
    "cifar100 truncated": (_cifar(write_cifar100, "cifar-100-python", "train", "truncated"),
                           "delete it and get the dataset again"),
    "stl10 truncated": (_stl10("truncated"), "delete it and get the dataset again"),
    "stl10 corrupt labels": (_stl10("corrupt"), "get the dataset again"),
    "imagefolder corrupt image": (_imagefolder_corrupt, "delete or replace the file"),
    "hf broken arrow file": (_hf_broken_arrow, "cannot read the saved dataset"),
}


@pytest.mark.parametrize("case", list(DATASET_CASES))
def test_corrupt_or_truncated_dataset_file_is_named(workspace: Path, case: str) -> None:
    make, fix = DATASET_CASES[case]
    spec, named = make(workspace / "data")
    args = ["pretrain", "simsiam", spec, *TINY, "--data-dir", str(workspace / "data"), "--image-size", "16",
            "--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), named, fix)


def test_imagefolder_mixed_modes_and_non_image_files_train(tmp_path: Path) -> None:
    """Grayscale, RGBA, CMYK, palette and RGB images become RGB; non-image files are skipped silently."""
    files = write_imagefolder(tmp_path / "pets", per_class=10, modes=("L", "RGBA", "CMYK", "P", "RGB"))[""]
    assert {f.suffix for f, _ in files} == {".png", ".tiff"}
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "pets" / "dog" / "labels.csv").write_text("a,b\n")
    result = runner.invoke(app, ["pretrain", "simsiam", f"imagefolder:{tmp_path / 'pets'}", *TINY,
                                 "--image-size", "16", "--out", str(tmp_path / "runs"), "--name", "mix"])
    assert result.exit_code == 0, result.output
    derived = json.loads((tmp_path / "runs" / "mix" / "config.json").read_text())["derived"]
    assert derived["channels"] == 3
    assert (tmp_path / "runs" / "mix" / "checkpoints" / "step-00000002.pt").is_file()


# ---------------------------------------------------------------------------------------------- runs and checkpoints

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A 2-step SimSiam run on digits (read-only: tests copy it before changing anything)."""
    out = tmp_path_factory.mktemp("trained")
    result = runner.invoke(app, ["pretrain", "simsiam", "digits", *TINY, "--out", str(out), "--name", "run"])
    assert result.exit_code == 0, result.output
    return out / "run"


def _copy_run(trained_run: Path, root: Path) -> Path:
    copy = root / "runs" / "copy"
    shutil.copytree(trained_run, copy)
    return copy


def _edit_config(run: Path, **changes: object) -> None:
    payload = json.loads((run / "config.json").read_text())
    payload["config"].update(changes)
    (run / "config.json").write_text(json.dumps(payload))


def _latest(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*.pt"))[-1]


def test_resume_with_config_edited_to_another_method(trained_run: Path, workspace: Path) -> None:
    run = _copy_run(trained_run, workspace)
    _edit_config(run, method="byol", method_options={})
    result = invoke_unchanged(workspace, ["pretrain", "byol", "digits", "--resume", str(run)])
    assert_one_line_error(result, "says method 'byol'", "was trained with 'simsiam'",
                          "restore method in config.json, or start a new run")


def test_eval_with_a_checkpoint_of_another_method(trained_run: Path, workspace: Path) -> None:
    run = _copy_run(trained_run, workspace)
    state = torch.load(_latest(run), weights_only=True)
    state["config"]["method"] = "byol"  # as if byol's checkpoint had been copied in
    torch.save(state, _latest(run))
    result = invoke_unchanged(workspace, ["eval", str(run), "digits"])
    assert_one_line_error(result, "says method 'simsiam'", "was trained with 'byol'")


def test_eval_with_a_checkpoint_that_does_not_fit(trained_run: Path, workspace: Path) -> None:
    """A checkpoint without a saved config (older runs) whose tensors do not fit the model."""
    run = _copy_run(trained_run, workspace)
    state = torch.load(_latest(run), weights_only=True)
    del state["config"]
    torch.save(state, _latest(run))
    _edit_config(run, backbone_options={"width": 8})
    result = invoke_unchanged(workspace, ["eval", str(run), "digits"])
    assert_one_line_error(result, "does not fit the model", "restore config.json or start a new run")


def test_export_to_an_existing_folder_needs_force(trained_run: Path, workspace: Path) -> None:
    run = _copy_run(trained_run, workspace)
    existing = workspace / "exports" / "mine"
    existing.mkdir(parents=True)
    (existing / "model.safetensors").write_bytes(b"an earlier export")
    result = invoke_unchanged(workspace, ["export", str(run), "--out", str(existing)])
    assert_one_line_error(result, f"{existing} exists", "pass --force")


class _Payload:
    """Unpickling this opens (creates) ``marker`` for writing: proof that the payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("layout", ["torch.save", "plain pickle"])
@pytest.mark.parametrize("command", ["export", "eval", "resume"])
def test_malicious_checkpoint_is_refused_and_never_run(trained_run: Path, workspace: Path, layout: str,
                                                       command: str) -> None:
    run = _copy_run(trained_run, workspace)
    marker = workspace.parent / f"{workspace.name}-pwned"
    evil = {"model": _Payload(marker), "step": 99}
    newest = run / "checkpoints" / "step-00000099.pt"
    if layout == "torch.save":
        torch.save(evil, newest)
    else:
        newest.write_bytes(pickle.dumps(evil))
    args = {"export": ["export", str(run)], "eval": ["eval", str(run), "digits"],
            "resume": ["pretrain", "simsiam", "digits", "--resume", str(run)]}[command]
    result = invoke_unchanged(workspace, args)
    assert_one_line_error(result, "step-00000099.pt is not an sslkit checkpoint",
                          "never unpickles arbitrary objects", "delete it")
    assert not marker.exists(), "the pickle payload ran"


def test_malicious_cifar_batch_is_refused_and_never_run(workspace: Path) -> None:
    write_cifar10(workspace / "data", n_train=40)
    marker = workspace.parent / f"{workspace.name}-cifar-pwned"
    batch = workspace / "data" / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({"data": _Payload(marker), "labels": []}, protocol=2))
    args = ["pretrain", "simsiam", "cifar10", *TINY, "--data-dir", str(workspace / "data"),
            "--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), "data_batch_1 is not a CIFAR batch",
                          "refuses to load", "get the dataset again")
    assert not marker.exists(), "the pickle payload ran"


def test_every_torch_load_in_sslkit_is_weights_only() -> None:
    """In addition to the behavioural tests above: no torch.load call can unpickle arbitrary objects."""
    package = Path(__file__).resolve().parents[1] / "sslkit"
    calls = [(path, match) for path in package.rglob("*.py")
             for match in re.finditer(r"torch\.load\((?:[^()]|\([^()]*\))*\)", path.read_text())]
    assert calls, "expected at least the checkpoint loader"
    for path, match in calls:
        assert "weights_only=True" in match.group(0), f"{path}: {match.group(0)}"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bpickle\.loads?\(", text), f"{path} unpickles without a restricted unpickler"


# ---------------------------------------------------------------------------------------------- plugins

@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch):
    points: dict[str, list] = {}
    real = _registry._entry_points
    monkeypatch.setattr(_registry, "_entry_points", lambda group: points.get(group) or real(group))
    _registry.clear_cache()
    yield points
    _registry.clear_cache()


def test_plugin_that_raises_on_import(fake_plugins, workspace: Path, monkeypatch) -> None:
    plugin_dir = workspace.parent / f"{workspace.name}-plugin"
    plugin_dir.mkdir()
    (plugin_dir / "sslkit_badinput_plugin.py").write_text(
        'raise RuntimeError("plugin exploded\\nwith a second line")\n')
    monkeypatch.syspath_prepend(str(plugin_dir))
    fake_plugins["methods"] = [fake_ep("exploding", "sslkit_badinput_plugin:Method", "methods", "sslkit-boom"),
                               *importlib_entry_points("methods")]
    args = ["pretrain", "exploding", "digits", *TINY, "--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), "method 'exploding' from distribution 'sslkit-boom' "
                          "failed to load (RuntimeError: plugin exploded)", "reinstall or uninstall sslkit-boom")


def test_two_plugins_with_the_same_name(fake_plugins, workspace: Path) -> None:
    fake_plugins["methods"] = [*importlib_entry_points("methods"),
                               fake_ep("twin", "json:dumps", "methods", "sslkit-twin-a"),
                               fake_ep("twin", "json:loads", "methods", "sslkit-twin-b")]
    args = ["pretrain", "twin", "digits", *TINY, "--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), "method name 'twin' is registered twice",
                          "'sslkit-twin-a'", "'sslkit-twin-b'", "uninstall one of them")
    other = runner.invoke(app, ["pretrain", "simsiam", "digits", *TINY, "--steps", "1", "--out",
                                str(workspace / "runs"), "--name", "unaffected"])
    assert other.exit_code == 0, other.output  # a clash of one name does not break the others


def importlib_entry_points(group: str) -> list:
    import importlib.metadata as md

    return list(md.entry_points(group=f"sslkit.{group}"))


# ---------------------------------------------------------------------------------------------- output folder

def test_out_under_a_regular_file(workspace: Path) -> None:
    blocker = workspace / "a_file"
    blocker.write_text("not a folder")
    args = ["pretrain", "simsiam", "digits", *TINY, "--out", str(blocker / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), "cannot create the output folder",
                          "a_file is a file", "choose another --out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions; the regular-file "
                    "case above covers an unwritable --out there")
def test_out_in_a_read_only_folder(workspace: Path) -> None:
    locked = workspace / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        args = ["pretrain", "simsiam", "digits", *TINY, "--out", str(locked / "runs")]
        assert_one_line_error(invoke_unchanged(workspace, args), "cannot write to", "choose a writable --out")
    finally:
        locked.chmod(0o700)


def test_disk_full_stops_before_the_first_step(workspace: Path, monkeypatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    steps = []
    from sslkit.methods.simsiam import SimSiam

    original = SimSiam.forward
    monkeypatch.setattr(SimSiam, "forward", lambda self, *a, **k: steps.append(1) or original(self, *a, **k))
    args = ["pretrain", "simsiam", "digits", *TINY, "--out", str(workspace / "runs")]
    assert_one_line_error(invoke_unchanged(workspace, args), "not enough disk space", "4.0 KiB free",
                          "free some space or choose another --out")
    assert not steps, "training started before the disk check"


def test_gzip_stream_is_not_mistaken_for_a_truncated_file(tmp_path: Path) -> None:
    """Control for the IDX cases: the same files, undamaged, train (so the errors above are the damage)."""
    fake_idx(tmp_path / "data", n_train=20, n_test=10, gz=True)
    assert gzip.decompress((tmp_path / "data" / "train-images-idx3-ubyte.gz").read_bytes())[:2] == b"\0\0"
    result = runner.invoke(app, ["pretrain", "simsiam", "fashion-mnist", *TINY, "--steps", "1", "--data-dir",
                                 str(tmp_path / "data"), "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
