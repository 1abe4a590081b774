"""Two CPU processes (torchrun, gloo) train exactly like one process with the same global batch.

For a method with gathered negatives (SimCLR), queues (MoCo v2, ReSSL) and a cross-correlation
(Barlow Twins), with --sync-bn: the same per-step losses (within 1e-5 relative: only the order of
float sums differs), the same kNN monitor, one run directory whose logs and checkpoints only the main
process wrote, and the batch split across the processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ARGS = ["digits", "--preset", "quick", "--steps", "4", "--batch-size", "32", "--sync-bn", "--set", "log_every=1",
        "--set", "num_workers=0", "--set", 'backbone_options={"width": 4}']


def _pretrain(method: str, out: Path, name: str, processes: int, *extra: str) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                "--standalone"] if processes > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    command = [*launcher, "-m", "sslkit", "pretrain", method, *ARGS, "--out", str(out), "--name", name, *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)  # its own process group: a hang kills every worker
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(command)} did not finish in 300 s:\n{stdout}{stderr}")
    assert process.returncode == 0, stdout + stderr
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", ["simclr", "mocov2", "ressl", "barlowtwins"])
def test_two_processes_follow_the_one_process_trajectory(tmp_path: Path, method: str) -> None:
    knn = ["--set", "knn_every=1"] if method == "simclr" else ["--set", "knn_every=0"]
    _pretrain(method, tmp_path / "one", "run", 1, *knn)
    two = _pretrain(method, tmp_path / "two", "run", 2, *knn)

    assert [p.name for p in (tmp_path / "two").iterdir()] == ["run"]  # one run directory
    one_records, two_records = _records(tmp_path / "one" / "run"), _records(tmp_path / "two" / "run")
    losses = [r["loss"] for r in one_records if "loss" in r]
    assert len(losses) == 4 and [r["step"] for r in two_records if "loss" in r] == [1, 2, 3, 4]  # main only
    assert [r["loss"] for r in two_records if "loss" in r] == pytest.approx(losses, rel=1e-5)
    if method == "simclr":  # the kNN monitor's bank and queries are sharded and gathered
        one_knn = [r["knn_top1"] for r in one_records if "knn_top1" in r]
        assert [r["knn_top1"] for r in two_records if "knn_top1" in r] == pytest.approx(one_knn, abs=1e-6)

    derived = json.loads((tmp_path / "two" / "run" / "config.json").read_text())["derived"]
    assert derived["num_processes"] == 2 and derived["per_process_batch_size"] == 16
    assert [p.name for p in (tmp_path / "two" / "run" / "checkpoints").iterdir()] == [
        p.name for p in (tmp_path / "one" / "run" / "checkpoints").iterdir()]
    output = two.stdout + two.stderr
    assert output.count("done: 4 steps") == 1 and output.count("run directory") == 1  # one progress display

    one_weights = torch.load(tmp_path / "one" / "run" / "checkpoints" / "step-00000004.pt", weights_only=True)
    two_weights = torch.load(tmp_path / "two" / "run" / "checkpoints" / "step-00000004.pt", weights_only=True)
    for key, value in one_weights["model"].items():
        torch.testing.assert_close(two_weights["model"][key], value, rtol=1e-4, atol=1e-5, msg=key)
