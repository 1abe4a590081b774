"""`sslkit eval` / `sslkit transfer`: seeds, the result file, channel and size adaptation, gathered features."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from typer.testing import CliRunner

from sslkit.cli import app
from sslkit.data.base import DatasetInfo, Source
from sslkit.errors import SSLKitError
from sslkit.evaluate.context import EvalBackbone, EvalContext
from sslkit.evaluate.protocols import result_name, summarise
from sslkit.models import smallcnn
from tests.formats import fake_idx, write_cifar10

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny SimSiam run on scikit-learn's digits (1 channel, 8x8)."""
    out = tmp_path_factory.mktemp("runs")
    args = ["pretrain", "simsiam", "digits", "--preset", "quick", "--steps", "2", "--batch-size", "32",
            "--out", str(out), "--name", "run", "--set", "num_workers=0", "--set", 'backbone_options={"width": 4}']
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out / "run"


def _record(run: Path, name: str) -> dict:
    return json.loads((run / "eval" / f"{name}.json").read_text())


def test_knn_result_file_and_table(run: Path) -> None:
    result = runner.invoke(app, ["eval", str(run), "digits", "--protocol", "knn", "--k", "20", "--seeds", "3"])
    assert result.exit_code == 0, result.output
    record = _record(run, "knn")
    assert record["seeds"] == [0] and "deterministic" in record["note"]  # kNN has no randomness to average
    assert record["options"] == {"k": 20} and set(record["metrics"]) == {"top1"} and record["std"] == {"top1": 0.0}
    assert 0.0 < record["metrics"]["top1"] <= 1.0
    assert record["pretrained"]["method"] == "simsiam"
    assert record["images"] == {"train": 1500, "test": 297, "train+test": 1797}
    assert f"{100 * record['metrics']['top1']:.2f}" in result.output and "adaptation" not in record


def test_linear_over_seeds_mean_and_std(run: Path) -> None:
    result = runner.invoke(app, ["eval", str(run), "digits", "--protocol", "linear", "--seeds", "2",
                                 "--epochs", "5"])
    assert result.exit_code == 0, result.output
    record = _record(run, "linear")
    values = [row["top1"] for row in record["per_seed"]]
    assert record["seeds"] == [0, 1] and [row["seed"] for row in record["per_seed"]] == [0, 1]
    assert record["metrics"]["top1"] == pytest.approx(sum(values) / 2)
    assert record["std"]["top1"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
    assert "± " in result.output and "per seed" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--protocol", "probe"], "unknown protocol 'probe'; choose one of knn, linear, finetune, cluster"),
    (["--protocol", "linear", "--k", "5"], "protocol linear has no option k"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--k", "0"], "--k and --t must be positive"),
])
def test_bad_options_are_one_line_errors(run: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["eval", str(run), "digits", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_channel_mismatch_in_eval_points_to_transfer(run: Path, tmp_path: Path) -> None:
    write_cifar10(tmp_path, n_train=20, n_test=10)
    result = runner.invoke(app, ["eval", str(run), "cifar10", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "sslkit transfer" in result.output


def test_transfer_rgb_to_a_grey_backbone_says_what_it_did(run: Path, tmp_path: Path) -> None:
    write_cifar10(tmp_path, n_train=30, n_test=10)
    result = runner.invoke(app, ["transfer", str(run), "cifar10", "--data-dir", str(tmp_path), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    record = _record(run, "transfer-linear-cifar10")
    assert record["mode"] == "linear" and record["protocol"] == "linear"
    assert record["adaptation"] == [
        "images resized from 32x32 to the backbone's 8x8 (shorter side to 8, centre crop; antialiased bilinear)",
        "RGB images converted to grey (BT.601 luma)"]
    assert "RGB images converted to grey" in result.output and 0.0 <= record["metrics"]["top1"] <= 1.0


def test_transfer_finetune_defaults_to_every_label(run: Path, tmp_path: Path) -> None:
    fake_idx(tmp_path, n_train=20, n_test=10)
    result = runner.invoke(app, ["transfer", str(run), "fashion-mnist", "--mode", "finetune", "--epochs", "1",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    record = _record(run, "transfer-finetune-fashion-mnist")
    assert record["options"]["fraction"] == 1.0 and record["adaptation"][0].startswith("images resized from 28x28")


def test_cluster_reports_on_train_and_test_together(run: Path) -> None:
    result = runner.invoke(app, ["eval", str(run), "digits", "--protocol", "cluster", "--seeds", "2"])
    assert result.exit_code == 0, result.output
    record = _record(run, "cluster")
    assert record["split"] == "train+test" and "train+test, 1797 images, 2 seeds" in result.output
    assert set(record["metrics"]) == {"nmi", "acc", "ari"} and record["counts"] == {"clusters": 10}
    assert all(0.0 <= value <= 1.0 for value in record["metrics"].values())


def test_transfer_rejects_options_of_the_other_mode(run: Path) -> None:
    result = runner.invoke(app, ["transfer", str(run), "digits", "--fraction", "0.1"])
    assert result.exit_code == 2 and "--fraction is for --mode finetune" in result.output


def test_grey_to_rgb_repeats_the_channel() -> None:
    backbone = EvalBackbone(smallcnn(3, 8, width=4), 8, 3, (0.5,) * 3, (0.5,) * 3, "test")
    ctx = EvalContext(backbone, _source(1), _source(1), adapt_channels=True)
    x = ctx.to_unit(torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8))
    assert x.shape == (2, 3, 8, 8) and torch.equal(x[:, 0], x[:, 2])
    assert ctx.adaptation() == ["grey images repeated to 3 channels"]
    with pytest.raises(SSLKitError, match="sslkit transfer"):
        EvalContext(backbone, _source(1), _source(1))


def test_summarise_and_result_names() -> None:
    metrics, std = summarise([{"seed": 0, "top1": 0.5, "nmi": 0.1}, {"seed": 1, "top1": 0.7, "nmi": 0.1}])
    assert metrics == pytest.approx({"top1": 0.6, "nmi": 0.1}) and std["top1"] == pytest.approx(0.1414213562)
    assert std["nmi"] == 0.0 and summarise([{"seed": 3, "top1": 0.5}])[1] == {"top1": 0.0}
    assert result_name("finetune", {"fraction": 0.01}, "cifar10", "cifar10") == "finetune-1pct"
    assert result_name("linear", {"recipe": "paper"}, "cifar100", "cifar10") == "linear-paper-cifar100"
    assert result_name("knn", {}, "imagefolder:/data/pets", "digits") == "knn-imagefolder-pets"
    assert result_name("knn", {}, "digits", None) == "knn"
    assert result_name("cluster", {"source": "auto"}, "cifar100", "cifar100") == "cluster"
    assert result_name("cluster", {"source": "kmeans", "labels": "fine", "on": "test"}, "c", "c") == \
        "cluster-kmeans-fine-on-test"


def _source(channels: int, n: int = 10) -> Source:
    g = torch.Generator().manual_seed(channels)
    info = DatasetInfo("toy", "train", tuple("abc"), channels, (8, 8), (0.5,) * channels, (0.5,) * channels)
    return Source(info=info, labels=torch.arange(n) % 3,
                  images=torch.randint(0, 256, (n, channels, 8, 8), dtype=torch.uint8, generator=g))


def _features_in_process(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        backbone = EvalBackbone(smallcnn(1, 8, width=4), 8, 1, (0.5,), (0.5,), "test")
        ctx = EvalContext(backbone, _source(1, n=13), _source(1, n=13), batch_size=2)
        feats, labels = ctx.features("train")
        torch.save({"feats": feats, "labels": labels}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_features_are_sharded_and_gathered_in_dataset_order(tmp_path: Path) -> None:
    """Two gloo processes extract half of 13 images each (batch 2 per process) and gather the same
    features, in the same order, as one process."""
    out = str(tmp_path / "features")
    mp.spawn(_features_in_process, args=(2, f"file://{tmp_path / 'init'}", out), nprocs=2, join=True)
    torch.manual_seed(0)
    backbone = EvalBackbone(smallcnn(1, 8, width=4), 8, 1, (0.5,), (0.5,), "test")
    single = EvalContext(backbone, _source(1, n=13), _source(1, n=13), batch_size=4).features("train")
    for rank in range(2):
        gathered = torch.load(f"{out}.{rank}", weights_only=True)
        assert torch.equal(gathered["labels"], single[1])
        torch.testing.assert_close(gathered["feats"], single[0], rtol=1e-5, atol=1e-6)


def test_eval_under_torchrun_matches_one_process_and_prints_once(run: Path) -> None:
    """`torchrun -m sslkit eval`: 2 gloo processes shard the features, the main one writes and prints."""
    one = runner.invoke(app, ["eval", str(run), "digits", "--k", "20"])
    assert one.exit_code == 0, one.output
    single = _record(run, "knn")["metrics"]["top1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "sslkit", "eval", str(run), "digits", "--k", "20"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("top1") == 1
    assert _record(run, "knn")["metrics"]["top1"] == pytest.approx(single, abs=1e-9)
