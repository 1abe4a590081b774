"""sslkit.report: rows read from hand-made run directories, figures written, and a real tiny run's embedding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from rich.console import Console

import sslkit
from sslkit.errors import SSLKitError
from sslkit.report import build_report, read_run, render_table, run_names
from sslkit.report.embedding import embed, stratified_indices

# finetune is left out: no run has it (kNN and linear are always shown).
COLUMNS = ["run", "method", "dataset", "epochs", "kNN", "linear", "cluster NMI", "cluster ACC",
           "cluster ARI", "transfer linear cifar10", "images/s"]


def make_run(root: Path, name: str, *, method: str = "simsiam", steps_per_epoch: int | None = 25,
             rows: list[dict] | None = None, evals: dict[str, dict] | None = None) -> Path:
    """A run directory written by hand: config.json, metrics.jsonl (when ``rows``), eval/*.json."""
    run = root / name
    run.mkdir(parents=True)
    derived = {"steps_per_epoch": steps_per_epoch} if steps_per_epoch else {}
    config = {"config": {"method": method, "dataset": "fashion-mnist", "epochs": 20}, "derived": derived,
              "versions": {"sslkit": "0.1.0"}}
    (run / "config.json").write_text(json.dumps(config))
    if rows is not None:
        (run / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for stem, record in (evals or {}).items():
        (run / "eval").mkdir(exist_ok=True)
        (run / "eval" / f"{stem}.json").write_text(json.dumps(record))
    return run


def log_row(step: int, loss: float, speed: float, per_epoch: int = 25) -> dict:
    return {"time": 1.0 + step, "step": step, "epoch": step / per_epoch, "loss": loss, "lr": 0.1,
            "images_per_s": speed, "embedding_std": 0.9}


def new_schema(protocol: str, metrics: dict, std: dict, seeds: list[int]) -> dict:
    return {"protocol": protocol, "dataset": "fashion-mnist", "split": "test", "seeds": seeds, "metrics": metrics,
            "std": std, "per_seed": [metrics] * len(seeds), "options": {}, "backbone": "x", "seconds": 1.0}


@pytest.fixture
def fake_runs(tmp_path: Path) -> list[Path]:
    full = make_run(tmp_path, "full", rows=[log_row(20, 4.0, 100.0), log_row(40, 3.0, 300.0),
                                            {"step": 50, "epoch": 2, "knn_top1": 0.5}, log_row(50, 2.5, 200.0)],
                    evals={"knn": {"protocol": "knn", "dataset": "fashion-mnist", "split": "test",
                                   "top1": 0.8324000239372253, "k": 200, "bank": 60000},
                           "linear": new_schema("linear", {"top1": 0.853, "top1_best": 0.86}, {"top1": 0.002},
                                                [0, 1, 2]),
                           "cluster": new_schema("cluster", {"nmi": 0.61234, "acc": 0.7, "ari": 0.5},
                                                 {"nmi": 0.01, "acc": 0.02, "ari": 0.03}, [0]),
                           "transfer-linear-cifar10": {**new_schema("linear", {"top1": 0.4}, {"top1": 0.0125},
                                                                    [0, 1]), "adaptation": ["resized"]}})
    bare = make_run(tmp_path, "bare", method="byol", steps_per_epoch=None)
    monitor = make_run(tmp_path, "monitor", method="simclr", steps_per_epoch=10,
                       rows=[log_row(10, -0.5, 1234.4, 10), {"step": 10, "epoch": 1, "knn_top1": 0.7},
                             log_row(15, -0.7, 1500.0, 10), {"step": 15, "epoch": 2, "knn_top1": 0.7710437774658203},
                             "not a row", ])
    (monitor / "metrics.jsonl").write_text((monitor / "metrics.jsonl").read_text() + '{"step": 16, "lo')  # cut off
    return [full, bare, monitor]


def test_rows_read_both_eval_schemas_and_mark_what_is_missing(fake_runs: list[Path], tmp_path: Path) -> None:
    result = build_report(fake_runs, tmp_path / "out")
    assert result.rows == [
        dict(zip(COLUMNS, ["full", "simsiam", "fashion-mnist", "2", "83.24", "85.30 ± 0.20", "61.23", "70.00",
                           "50.00", "40.00 ± 1.25", "200"], strict=True)),
        dict(zip(COLUMNS, ["bare", "byol", "fashion-mnist", "—", "—", "—", "—", "—", "—", "—", "—"],
                 strict=True)),
        dict(zip(COLUMNS, ["monitor", "simclr", "fashion-mnist", "1.50", "77.10 (monitor)", "—", "—", "—", "—", "—",
                           "1,367"], strict=True)),
    ]


def test_optional_columns_appear_only_when_a_run_has_them(tmp_path: Path) -> None:
    run = make_run(tmp_path, "only-knn", rows=[log_row(25, 1.0, 10.0)],
                   evals={"knn": new_schema("knn", {"top1": 0.5}, {"top1": 0.1}, [0, 1, 2])})
    (row,) = build_report([run], tmp_path / "out").rows
    assert row == {"run": "only-knn", "method": "simsiam", "dataset": "fashion-mnist", "epochs": "1",
                   "kNN": "50.00 ± 10.00", "linear": "—", "images/s": "10"}


def test_curves_follow_training_progress(fake_runs: list[Path]) -> None:
    monitor = read_run(fake_runs[2])
    assert monitor.loss == [(1.0, -0.5), (1.5, -0.7)]
    assert monitor.knn_monitor == [(1.0, 0.7), (1.5, 0.7710437774658203)]  # step-based, not the epoch counter


def test_figures_and_markdown_are_written(fake_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = build_report(fake_runs, out)
    assert result.markdown == out / "report.md"
    assert sorted(path.name for path in result.files) == ["knn.png", "loss.png", "report.md"]
    for name in ("loss.png", "knn.png"):
        assert (out / name).stat().st_size > 0
        with Image.open(out / name) as image:
            image.load()
            assert image.format == "PNG" and image.width > 400 and image.height > 300
    text = result.markdown.read_text()
    assert "| full | simsiam | fashion-mnist | 2 | 83.24 | 85.30 ± 0.20 |" in text
    assert "![Training loss](loss.png)" in text and "![kNN monitor](knn.png)" in text
    assert str(fake_runs[1].resolve()) in text and "sslkit report " in text


def test_no_knn_figure_without_a_monitor(tmp_path: Path) -> None:
    run = make_run(tmp_path, "plain", rows=[log_row(5, 2.0, 1.0), log_row(10, 1.0, 1.0)])
    result = build_report([run], tmp_path / "out")
    assert not (tmp_path / "out" / "knn.png").exists()
    assert any("knn.png not written" in note for note in result.notes)


def test_render_table_shows_every_row(fake_runs: list[Path], tmp_path: Path) -> None:
    rows = build_report(fake_runs, tmp_path / "out").rows
    table = render_table(rows)
    assert [column.header for column in table.columns] == COLUMNS and table.row_count == 3
    console = Console(width=250, record=True)
    console.print(table)
    assert "77.10 (monitor)" in console.export_text()


@pytest.mark.parametrize("kind", ["missing", "no-config", "export"])
def test_a_path_that_is_not_a_run_is_named(tmp_path: Path, kind: str) -> None:
    path = tmp_path / kind
    if kind != "missing":
        path.mkdir()
    if kind == "export":
        (path / "config.json").write_text(json.dumps({"architecture": "smallcnn", "pretrained_cfg": {}}))
    with pytest.raises(SSLKitError, match=kind):
        build_report([path], tmp_path / "out")


def test_bad_options_are_user_errors(fake_runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(SSLKitError, match="umap"):
        build_report(fake_runs, tmp_path / "out", embedding="umap")
    with pytest.raises(SSLKitError, match="no runs"):
        build_report([], tmp_path / "out")
    with pytest.raises(SSLKitError, match="listed twice"):
        build_report([fake_runs[0], fake_runs[0]], tmp_path / "out")


def test_runs_with_the_same_name_are_told_apart(tmp_path: Path) -> None:
    a, b = make_run(tmp_path / "seed0", "simsiam"), make_run(tmp_path / "seed1", "simsiam")
    assert run_names([a, b]) == ["seed0/simsiam", "seed1/simsiam"]


def test_stratified_indices_keep_class_shares_and_follow_the_seed() -> None:
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    chosen = stratified_indices(labels, 100, seed=3)
    assert torch.equal(chosen, stratified_indices(labels, 100, seed=3))
    assert not torch.equal(chosen, stratified_indices(labels, 100, seed=4))
    assert torch.equal(chosen, chosen.sort().values) and len(set(chosen.tolist())) == 100
    assert torch.bincount(labels[chosen]).tolist() == [60, 30, 10]
    few = torch.tensor([0, 0, 1, 1, 1])  # shares 1.2 and 1.8: the larger remainder gets the third point
    assert torch.bincount(few[stratified_indices(few, 3, 0)]).tolist() == [1, 2]
    assert torch.equal(stratified_indices(labels[:50], 100, 0), torch.arange(50))


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embed_gives_two_finite_coordinates_per_point(method: str) -> None:
    features = torch.randn(60, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(60) % 3
    result = embed(features, labels, method, seed=0)
    assert result.points.shape == (60, 2) and bool((result.points == result.points).all())
    assert result.labels.tolist() == labels.tolist() and len(result.axes) == 2


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SimSiam run on digits: 30 steps (about 3 s), kNN monitor every epoch."""
    out = tmp_path_factory.mktemp("runs")
    summary = sslkit.pretrain("simsiam", "digits", preset="quick", steps=30, batch_size=64, log_every=5, knn_every=1,
                              num_workers=0, out=str(out), name="tiny", proj_dim=32, pred_hidden_dim=16,
                              backbone_options={"width": 8})
    return Path(summary["run"])


def test_a_real_run_gets_an_embedding_of_its_features(tiny_run: Path, tmp_path: Path) -> None:
    result = build_report([tiny_run], tmp_path / "out", features_dataset="digits", max_points=200, seed=1)
    figure = tmp_path / "out" / "embedding-tiny.png"
    assert figure in result.files and figure.stat().st_size > 0
    with Image.open(figure) as image:
        image.load()
        assert image.format == "PNG"
    (row,) = result.rows
    assert row["method"] == "simsiam" and row["epochs"] == "1.30" and row["kNN"].endswith("(monitor)")
    assert "![embedding of tiny](embedding-tiny.png)" in result.markdown.read_text()
    assert (tmp_path / "out" / "knn.png").is_file()


def test_features_of_a_dataset_with_other_channels_are_refused(tiny_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from sslkit.data.base import DatasetInfo, Source
    from sslkit.report import embedding

    rgb = Source(info=DatasetInfo("rgb", "test", ("a", "b"), 3, (8, 8), (0.5,) * 3, (0.25,) * 3),
                 labels=torch.tensor([0, 1, 0]), images=torch.zeros(3, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(SSLKitError, match="3-channel|1-channel"):
        embedding.run_features(tiny_run, rgb)
