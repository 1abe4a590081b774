"""The training loop end to end on scikit-learn's digits: run directory, determinism, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sslkit import _registry
from sslkit.config import resolve
from sslkit.engine import checkpoint
from sslkit.engine.trainer import pretrain
from sslkit.errors import SSLKitError


def digits_config(tmp_path: Path, **sets):
    values = {"epochs": 2, "batch_size": 64, "log_every": 5, "checkpoint_every": 7, "knn_every": 1,
              "num_workers": 0, "out": str(tmp_path), "name": sets.pop("name", "run"), "proj_dim": 32,
              "pred_hidden_dim": 16, "backbone_options": {"width": 8}, **sets}
    return resolve("simsiam", "digits", _registry.load("methods", "simsiam"), preset="quick", sets=values)


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load_latest(run)["model"]


def test_run_directory_layout(tmp_path: Path) -> None:
    summary = pretrain(digits_config(tmp_path), quiet=True)
    run = Path(summary["run"])
    payload = json.loads((run / "config.json").read_text())
    assert payload["config"]["method"] == "simsiam" and payload["derived"]["total_steps"] == summary["steps"]
    assert {"torch", "sslkit", "accelerate"} <= set(payload["versions"])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert steps and all(r["loss"] == r["loss"] for r in steps)  # finite, logged
    knn = [r["knn_top1"] for r in records if "knn_top1" in r]
    assert len(knn) == 2 and 0.0 <= knn[-1] <= 1.0 and summary["knn_top1"] == knn[-1]
    assert len(checkpoint.list_checkpoints(run)) == 2  # keep_checkpoints


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    a = pretrain(digits_config(tmp_path, name="a", steps=6), quiet=True)
    b = pretrain(digits_config(tmp_path, name="b", steps=6), quiet=True)
    c = pretrain(digits_config(tmp_path, name="c", steps=6, seed=1), quiet=True)
    wa, wb, wc = (final_weights(Path(s["run"])) for s in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_continues_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupt after the first mid-epoch checkpoint; the resumed run ends with identical weights."""
    full = pretrain(digits_config(tmp_path, name="full"), quiet=True)
    real_save = checkpoint.save

    def save_then_die(run, step, state, keep=2):
        real_save(run, step, state, keep)
        raise KeyboardInterrupt  # as if killed right after the first checkpoint (step 7, mid-epoch)

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        pretrain(digits_config(tmp_path, name="cut"), quiet=True)
    monkeypatch.setattr(checkpoint, "save", real_save)
    run = tmp_path / "cut"
    assert checkpoint.load_latest(run)["step"] == 7
    cfg = digits_config(tmp_path, name="cut")
    resumed = pretrain(cfg, resume=run, quiet=True)
    assert resumed["steps"] == full["steps"]
    wf, wr = final_weights(Path(full["run"])), final_weights(run)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # records after the checkpoint were replaced, not duplicated


def test_batch_larger_than_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SSLKitError, match="larger than the dataset"):
        pretrain(digits_config(tmp_path, batch_size=100_000), quiet=True)


def test_existing_run_directory_is_refused(tmp_path: Path) -> None:
    pretrain(digits_config(tmp_path, steps=2), quiet=True)
    with pytest.raises(SSLKitError, match="already exists; use --resume"):
        pretrain(digits_config(tmp_path, steps=2), quiet=True)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    from sslkit.methods.simsiam import SimSiam

    real = SimSiam.forward

    def forward(self, views, progress):
        out = real(self, views, progress)
        if progress >= 8 / 46:  # from step 9 on (46 steps in the run), the loss is NaN
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(SimSiam, "forward", forward)
    with pytest.raises(SSLKitError, match="NaN or Inf"):
        pretrain(digits_config(tmp_path, checkpoint_every=7, log_every=5), quiet=True)
    assert checkpoint.load_latest(tmp_path / "run")["step"] == 7  # the good one, written before the NaN
