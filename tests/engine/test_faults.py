"""Faults: kill -9 at chosen points then ``--resume``, damaged checkpoints, NaN/Inf and collapse.

The kills are real: training runs in a subprocess through a small wrapper script (written here, so
production code has no test hooks) that patches one function to ``SIGKILL`` its own process on the
Nth call, then calls the CLI. The resumed run must end with exactly the weights, optimizer state and
logged losses of an uninterrupted run with the same seed (CPU, so bitwise), with one metrics row per
logged step: rows written after the resumed checkpoint are replaced, never duplicated.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sslkit.cli import app
from sslkit.engine import checkpoint

STEPS, BATCH = 24, 128  # digits: 1500 train images -> 11 steps per epoch; epochs end at 11, 22 (and 24)
#: A tiny SimSiam on digits: checkpoints at 5, 10, 11 (epoch), 15, 20, 22 (epoch), 24 (end); rows every 3 steps.
TRAIN = ["--preset", "quick", "--steps", str(STEPS), "--batch-size", str(BATCH), "--knn-every", "1",
         "--set", "num_workers=0", "--set", 'backbone_options={"width": 4}', "--set", "proj_dim=32",
         "--set", "pred_hidden_dim=16", "--set", "checkpoint_every=5", "--set", "log_every=3"]

#: Patched into the training process before ``sslkit.cli.app()``: ``wrapper.py MODE N ARGS...`` kills
#: the process with SIGKILL at the Nth occurrence of MODE's event.
WRAPPER = textwrap.dedent('''
    import io, os, signal, sys

    import accelerate
    import torch

    import sslkit.engine.checkpoint as checkpoint
    import sslkit.engine.trainer as trainer
    from sslkit.cli import app

    mode, n = sys.argv[1], int(sys.argv[2])
    calls = {"n": 0}


    def die():
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


    def nth():
        calls["n"] += 1
        return calls["n"] == n


    def after_nth(owner, name):
        """Kill right after the Nth call of owner.name returned."""
        real = getattr(owner, name)

        def wrapped(*args, **kwargs):
            result = real(*args, **kwargs)
            if nth():
                die()
            return result
        setattr(owner, name, wrapped)


    if mode == "backward":  # mid-step: gradients computed, optimizer not stepped, EMA/queue not updated
        after_nth(accelerate.Accelerator, "backward")
    elif mode == "save-half":  # the Nth checkpoint: half its bytes written to the temporary file
        real_save = checkpoint.torch.save

        def save(obj, handle, *args, **kwargs):
            if not nth():
                return real_save(obj, handle, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            handle.flush()
            die()
        checkpoint.torch.save = save
    elif mode in ("before-replace", "after-replace"):  # the Nth checkpoint complete but not renamed / renamed
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            is_checkpoint = str(src).endswith(".pt.tmp")
            if is_checkpoint and mode == "before-replace" and nth():
                die()
            real_replace(src, dst, *args, **kwargs)
            if is_checkpoint and mode == "after-replace" and nth():
                die()  # before the older checkpoints beyond keep_checkpoints are deleted
        checkpoint.os.replace = replace
    elif mode == "knn":  # inside the Nth kNN monitor: train features extracted, eval features not
        real_features = trainer.split_features

        def split_features(*args, **kwargs):
            if nth():
                die()
            return real_features(*args, **kwargs)
        n = 2 * n
        trainer.split_features = split_features
    elif mode != "none":
        raise SystemExit(f"unknown mode {mode}")

    sys.argv = ["sslkit", *sys.argv[3:]]
    app()
''')


def _cli(args: list[str]):
    """Invoke the CLI in this process, wide enough that rich wraps no message."""
    return CliRunner().invoke(app, args, env={"COLUMNS": "400"})


def _env() -> dict[str, str]:
    """The subprocess computes with as many threads as this process, so their floats agree bitwise."""
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "COLUMNS": "400"}


def _write_wrapper(folder: Path) -> Path:
    path = folder / "wrapper.py"
    path.write_text(WRAPPER)
    return path


def _train_args(out: Path, name: str) -> list[str]:
    return ["pretrain", "simsiam", "digits", *TRAIN, "--out", str(out), "--name", name]


def _run_killed(tmp_path: Path, mode: str, n: int, name: str, args: list[str] | None = None
                ) -> subprocess.CompletedProcess:
    """Train in a subprocess that kills itself at the Nth ``mode`` event; the run must die by SIGKILL."""
    args = args or _train_args(tmp_path, name)
    result = subprocess.run([sys.executable, str(_write_wrapper(tmp_path)), mode, str(n), *args],
                            capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    return result


def _resume(run: Path, method: str = "simsiam") -> str:
    """``sslkit pretrain METHOD digits --resume RUN`` in this process; returns its output."""
    result = _cli(["pretrain", method, "digits", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    return result.output


def _final_state(run: Path, steps: int = STEPS) -> dict:
    state = checkpoint.load_latest(run)
    assert state["step"] == steps
    return state


def _assert_same_tensors(a, b, where: str = "") -> None:
    """Bitwise equality of two nested checkpoint structures."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _assert_resumed_exactly(run: Path, reference: Path, steps: int = STEPS) -> None:
    """Same model and optimizer state as the uninterrupted run; the same metrics rows (less timings)."""
    resumed, full = _final_state(run, steps), _final_state(reference, steps)
    _assert_same_tensors(resumed["model"], full["model"], "model")
    _assert_same_tensors(resumed["optimizer"], full["optimizer"], "optimizer")
    timing = {"time", "images_per_s"}
    strip = [[{k: v for k, v in row.items() if k not in timing} for row in _rows(r)] for r in (run, reference)]
    assert strip[0] == strip[1]  # no duplicated or missing step; identical losses and kNN


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run every resumed run must equal."""
    out = tmp_path_factory.mktemp("reference")
    result = _cli(_train_args(out, "full"))
    assert result.exit_code == 0, result.output
    return out / "full"


def test_kill_during_checkpoint_write_resumes_from_the_last_complete_one(tmp_path: Path, reference: Path) -> None:
    """Killed with half of step 11's checkpoint written: 'latest' is still step 10, and resuming equals."""
    _run_killed(tmp_path, "save-half", 3, "cut")
    run = tmp_path / "cut"
    assert [p.name for p in checkpoint.list_checkpoints(run)] == ["step-00000005.pt", "step-00000010.pt"]
    assert checkpoint.load_latest(run)["step"] == 10
    assert any(row.get("knn_top1") is not None and row["step"] == 11 for row in _rows(run))  # replayed later
    output = _resume(run)
    assert "resumed at step 10" in output
    _assert_resumed_exactly(run, reference)
    assert not list(checkpoint.checkpoint_dir(run).glob(".*.tmp"))  # the torn temporary file was cleaned up


KILL_POINTS = [  # (mode, N, the step the run resumes at)
    ("backward", 8, 5),  # mid-step 8: metrics row 6 was written after checkpoint 5 and must be replaced
    ("backward", 12, 11),  # first step of epoch 2, right after the epoch checkpoint
    ("before-replace", 4, 11),  # checkpoint 15 complete in its temporary file, never renamed
    ("after-replace", 2, 10),  # checkpoint 10 renamed, older ones not yet deleted
    ("knn", 2, 20),  # inside the second epoch's kNN monitor (step 22)
    ("save-half", 7, 22),  # the final checkpoint torn: the run is resumed for its last two steps
]


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "n", "resumed_at"), KILL_POINTS, ids=[f"{m}-{n}" for m, n, _ in KILL_POINTS])
def test_kill_at_each_point_resumes_exactly(tmp_path: Path, reference: Path, mode: str, n: int,
                                            resumed_at: int) -> None:
    _run_killed(tmp_path, mode, n, "cut")
    run = tmp_path / "cut"
    assert checkpoint.load_latest(run)["step"] == resumed_at
    assert f"resumed at step {resumed_at}" in _resume(run)
    _assert_resumed_exactly(run, reference)


@pytest.mark.slow
def test_killed_twice_then_resumed_through_the_real_cli(tmp_path: Path, reference: Path) -> None:
    """Two kills in a row (the second during the resumed run), then the ``sslkit`` executable resumes."""
    _run_killed(tmp_path, "backward", 8, "cut")
    env = _env()
    wrapper = tmp_path / "wrapper.py"
    resume = ["pretrain", "simsiam", "digits", "--resume", str(tmp_path / "cut")]
    second = subprocess.run([sys.executable, str(wrapper), "knn", "1", *resume], capture_output=True, env=env,
                            timeout=300)
    assert second.returncode == -signal.SIGKILL
    assert checkpoint.load_latest(tmp_path / "cut")["step"] == 10
    sslkit = Path(sys.executable).with_name("sslkit")
    command = [str(sslkit)] if sslkit.is_file() else [sys.executable, "-m", "sslkit"]
    final = subprocess.run([*command, *resume], capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    _assert_resumed_exactly(tmp_path / "cut", reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_at_a_random_time_resumes_exactly(tmp_path: Path, reference: Path, seed: int) -> None:
    """A plain ``kill -9`` at a random moment once the run directory exists."""
    env = _env()
    run = tmp_path / "cut"
    process = subprocess.Popen([sys.executable, "-m", "sslkit", *_train_args(tmp_path, "cut")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (run / "config.json").is_file() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.Random(seed).uniform(0.3, 3.0))
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=120)
    assert process.returncode in (-signal.SIGKILL, 0)  # killed, or finished before the kill came
    _resume(run)
    _assert_resumed_exactly(run, reference)


def _methods() -> list[str]:
    from sslkit import _registry

    return _registry.names("methods")


@pytest.mark.slow
@pytest.mark.parametrize("method", _methods())
def test_every_method_resumes_exactly_after_a_kill_mid_step(tmp_path: Path, method: str) -> None:
    """EMA targets, queues (and their host-side pointer), schedules driven by progress, optimizer state:
    everything a method carries across steps survives kill -9 in the middle of step 10 (resumed at 8)."""
    def args(name: str) -> list[str]:
        return ["pretrain", method, "digits", "--preset", "quick", "--steps", "12", "--batch-size", "64",
                "--knn-every", "0", "--set", "num_workers=0", "--set", 'backbone_options={"width": 4}',
                "--set", "checkpoint_every=4", "--set", "log_every=2", "--out", str(tmp_path), "--name", name]

    full = _cli(args("full"))
    assert full.exit_code == 0, full.output
    _run_killed(tmp_path, "backward", 10, "cut", args("cut"))
    assert checkpoint.load_latest(tmp_path / "cut")["step"] == 8
    _resume(tmp_path / "cut", method)
    _assert_resumed_exactly(tmp_path / "cut", tmp_path / "full", steps=12)


# ---- damaged and missing checkpoints ------------------------------------------------------------


def _short_run(tmp_path: Path, name: str = "run", steps: int = 10) -> Path:
    args = _train_args(tmp_path, name)
    args[args.index("--steps") + 1] = str(steps)
    result = _cli(args)
    assert result.exit_code == 0, result.output
    return tmp_path / name


@pytest.mark.parametrize("damage", ["truncated", "garbled", "empty"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one_with_a_warning(tmp_path: Path,
                                                                                  damage: str) -> None:
    run = _short_run(tmp_path)  # checkpoints at 5 and 10
    newest = checkpoint.list_checkpoints(run)[-1]
    data = newest.read_bytes()
    newest.write_bytes({"truncated": data[: len(data) // 3], "garbled": bytes(len(data)), "empty": b""}[damage])
    with pytest.warns(UserWarning, match=f"{newest.name} is damaged"):
        assert checkpoint.load_latest(run)["step"] == 5
    output = _resume(run)
    assert f"{newest.name} is damaged" in output and "resumed at step 5" in output
    assert checkpoint.load_latest(run)["step"] == 10  # trained again from 5 and written anew


def test_every_checkpoint_damaged_is_a_clear_error(tmp_path: Path) -> None:
    run = _short_run(tmp_path)
    for path in checkpoint.list_checkpoints(run):
        path.write_bytes(path.read_bytes()[:1000])  # torn copies
    result = _cli(["pretrain", "simsiam", "digits", "--resume", str(run)])
    assert result.exit_code == 2
    assert "every checkpoint" in result.output and "unreadable" in result.output


def test_resume_without_any_checkpoint_starts_again_from_step_0(tmp_path: Path) -> None:
    """Killed before the first checkpoint: the run directory is reused and training starts afresh."""
    reference = _short_run(tmp_path, "reference", steps=4)
    run = _short_run(tmp_path, "run", steps=4)
    for path in checkpoint.list_checkpoints(run):
        path.unlink()
    output = _resume(run)
    assert "no checkpoint" in output and "from step 0" in output
    _assert_same_tensors(checkpoint.load_latest(run)["model"], checkpoint.load_latest(reference)["model"])
    assert [row["step"] for row in _rows(run)] == [row["step"] for row in _rows(reference)]


# ---- NaN / Inf and collapse -----------------------------------------------------------------------


def _poison(monkeypatch: pytest.MonkeyPatch, steps: set[int], what: str = "loss") -> None:
    """NaN at the given 1-based steps, from inside SimSiam.forward (the engine passes progress = step / total).

    what: "loss" multiplies the loss by NaN; "views" feeds NaN images, which also poisons BatchNorm.
    """
    from sslkit.methods.simsiam import SimSiam

    real = SimSiam.forward

    def forward(self, views, progress):
        step = round(progress * STEPS) + 1
        if step in steps and what == "views":
            views = {role: [v * float("nan") for v in images] for role, images in views.items()}
        out = real(self, views, progress)
        if step in steps and what == "loss":
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(SimSiam, "forward", forward)


def _finite(state: dict) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in state["model"].values() if t.is_floating_point())


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    _poison(monkeypatch, set(range(8, STEPS + 1)))
    result = _cli(_train_args(tmp_path, "run"))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "NaN or Inf at step 8" in message and "Traceback" not in result.output
    run = tmp_path / "run"
    state = checkpoint.load_latest(run)
    assert state["step"] == 5 and _finite(state)
    assert "last good checkpoint is kept" in message and "step-00000005.pt" in message  # named, to resume from


def test_weights_poisoned_behind_a_finite_loss_are_never_checkpointed(tmp_path: Path, monkeypatch) -> None:
    """An update that overflowed (finite loss, NaN weights) right before checkpoint 5: stop, write nothing."""
    from sslkit.methods.simsiam import SimSiam

    def after_step(self, progress):
        if round(progress * STEPS) == 5:
            next(self.parameters()).data.fill_(float("nan"))

    monkeypatch.setattr(SimSiam, "after_step", after_step)
    result = _cli(_train_args(tmp_path, "run"))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "the weights became NaN or Inf at step 5" in message and "none was written yet" in message
    assert checkpoint.list_checkpoints(tmp_path / "run") == []


def test_huge_lr_stops_with_exit_code_2_and_a_finite_checkpoint(tmp_path: Path) -> None:
    result = _cli([*_train_args(tmp_path, "run"), "--lr", "1e12"])
    assert result.exit_code == 2, result.output
    assert "NaN or Inf at step" in " ".join(result.output.split())
    for path in checkpoint.list_checkpoints(tmp_path / "run"):
        assert _finite(checkpoint.load_file(path))


def test_on_nan_skip_skips_the_batch_and_finishes(tmp_path: Path, monkeypatch) -> None:
    _poison(monkeypatch, {7})
    result = _cli([*_train_args(tmp_path, "run"), "--on-nan", "skip"])
    assert result.exit_code == 0, result.output
    assert "NaN/Inf loss at step 7: batch skipped" in " ".join(result.output.split())
    run = tmp_path / "run"
    state = checkpoint.load_latest(run)
    assert state["step"] == STEPS and _finite(state)
    logged = [row for row in _rows(run) if "loss" in row]
    assert all(math.isfinite(row["loss"]) for row in logged)
    assert [row.get("skipped_batches") for row in logged if row["step"] >= 9][0] == 1
    assert all("skipped_batches" not in row for row in logged if row["step"] < 7)


def test_on_nan_skip_refuses_to_go_on_when_batchnorm_statistics_are_poisoned(tmp_path: Path, monkeypatch) -> None:
    _poison(monkeypatch, {7}, what="views")
    result = _cli([*_train_args(tmp_path, "run"), "--on-nan", "skip"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "at step 7 also wrote non-finite values into" in message and "running_" in message
    state = checkpoint.load_latest(tmp_path / "run")
    assert state["step"] == 5 and _finite(state)


def test_collapse_warning_is_printed_once(tmp_path: Path, monkeypatch) -> None:
    from sslkit.methods.simsiam import SimSiam

    real = SimSiam.forward

    def constant_embeddings(self, views, progress):
        out = real(self, views, progress)
        out.embeddings = torch.ones_like(out.embeddings)  # every image mapped to one point
        return out

    monkeypatch.setattr(SimSiam, "forward", constant_embeddings)
    result = _cli(_train_args(tmp_path, "run"))
    assert result.exit_code == 0, result.output
    assert result.output.count("embeddings are collapsing") == 1
    assert all(row["embedding_std"] < 0.1 for row in _rows(tmp_path / "run") if "embedding_std" in row)


def test_metrics_truncation_drops_later_and_torn_rows(tmp_path: Path) -> None:
    from sslkit.engine.rundir import MetricsLog

    log = MetricsLog(tmp_path)
    for step in (3, 6, 9):
        log.write(step=step, loss=1.0)
    with open(log.path, "a") as handle:
        handle.write('{"time": 1.0, "step": 1')  # a row cut short by a crash
    log.truncate_after(6)
    assert [row["step"] for row in _rows(tmp_path)] == [3, 6]
    assert not list(tmp_path.glob(".*.tmp"))
    log.write(step=9, loss=2.0)
    assert [row["step"] for row in _rows(tmp_path)] == [3, 6, 9]
