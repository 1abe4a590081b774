"""``sslkit report RUN [RUN...]``: compare runs in one table, with training curves and feature embeddings.

Reads each run directory (:mod:`sslkit.report.runs`), writes ``report.md`` with the results table
(METHODS.md §2 protocols as recorded by ``sslkit eval``), ``loss.png``, ``knn.png`` when a run has the
kNN monitor, and with ``features_dataset`` one ``embedding-<run>.png`` per run: the test split's
frozen features in 2D (:mod:`sslkit.report.embedding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sslkit.errors import SSLKitError
from sslkit.report.runs import Metric, RunSummary, read_run
from sslkit.report.table import epochs_text, markdown_table, render_table, table_rows

__all__ = ["Metric", "ReportResult", "RunSummary", "build_report", "markdown_table", "read_run", "render_table",
           "run_names", "table_rows"]


@dataclass
class ReportResult:
    """What :func:`build_report` produced: the table rows (``{column: text}``) and the files written."""

    rows: list[dict[str, str]]
    files: list[Path]
    markdown: Path
    notes: list[str] = field(default_factory=list)  # figures left out and why


def build_report(runs: list[Path], out_dir: Path, *, features_dataset: str | None = None, embedding: str = "pca",
                 data_dir: str | Path | None = None, max_points: int = 2000, seed: int = 0) -> ReportResult:
    """Write ``report.md`` and its figures for ``runs`` into ``out_dir``.

    Args:
        runs: Run directories written by ``sslkit pretrain``, in table order.
        out_dir: Folder for ``report.md``, ``loss.png``, ``knn.png`` and ``embedding-<run>.png``.
        features_dataset: Dataset spec whose test split is embedded for every run (None: no embeddings).
        embedding: ``"pca"`` or ``"tsne"``.
        data_dir: Where ``features_dataset`` is looked for.
        max_points: Most test images in an embedding (a stratified subset chosen with ``seed``).
        seed: Seed of the subset and of t-SNE.

    Raises:
        SSLKitError: No runs, a path that is not a run, an unknown embedding or dataset.
    """
    from sslkit.report.embedding import EMBEDDINGS

    if not runs:
        raise SSLKitError("no runs to report; pass one or more run directories (sslkit report runs/NAME ...)")
    if embedding not in EMBEDDINGS:
        raise SSLKitError(f"unknown embedding {embedding!r}; use one of: {', '.join(EMBEDDINGS)}")
    if max_points <= 0:
        raise SSLKitError(f"max_points must be positive (got {max_points})")
    paths = [Path(run) for run in runs]
    summaries = [read_run(path) for path in paths]
    names = run_names(paths)
    rows = table_rows(summaries, names)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures, notes = _curves(summaries, names, out_dir)
    embeddings: dict[str, Path] = {}
    embedding_note = None
    if features_dataset is not None:
        embeddings, embedding_note = _embeddings(paths, summaries, names, out_dir, features_dataset, embedding,
                                                 data_dir, max_points, seed)
    command = _command(paths, out_dir, features_dataset, embedding)
    from sslkit.report.markdown import write_markdown

    markdown = write_markdown(out_dir / "report.md", rows, paths, names, figures, embeddings, command,
                              embedding_note)
    return ReportResult(rows=rows, files=[markdown, *figures.values(), *embeddings.values()], markdown=markdown,
                        notes=notes)


def run_names(paths: list[Path]) -> list[str]:
    """Each run's directory name; runs whose names clash are named ``parent/name`` instead."""
    names = [path.resolve().name for path in paths]
    clashes = {name for name in names if names.count(name) > 1}
    names = [f"{path.resolve().parent.name}/{name}" if name in clashes else name
             for path, name in zip(paths, names, strict=True)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SSLKitError(f"run {duplicates[0]} is listed twice; pass each run directory once")
    return names


def _curves(summaries: list[RunSummary], names: list[str], out_dir: Path) -> tuple[dict[str, Path], list[str]]:
    from sslkit.report.plots import plot_knn, plot_loss

    figures, notes = {}, []
    for key, plot, missing in (("loss", plot_loss, "no run logged a loss: loss.png not written"),
                               ("knn", plot_knn, "no run has a kNN monitor (knn_every=0): knn.png not written")):
        path = plot(summaries, names, out_dir / f"{key}.png")
        if path is None:
            notes.append(missing)
        else:
            figures[key] = path
    return figures, notes


def _embeddings(paths: list[Path], summaries: list[RunSummary], names: list[str], out_dir: Path, dataset: str,
                method: str, data_dir: str | Path | None, max_points: int,
                seed: int) -> tuple[dict[str, Path], str]:
    from sslkit.data.open import open_source
    from sslkit.report.embedding import embed, run_features, stratified_indices, subset
    from sslkit.report.plots import plot_embedding

    source = open_source(dataset, "test", data_dir)
    images = subset(source, stratified_indices(source.labels, max_points, seed))
    label = {"pca": "PCA", "tsne": "t-SNE"}[method]
    written = {}
    for path, summary, name in zip(paths, summaries, names, strict=True):
        features, labels = run_features(path, images)
        points = embed(features, labels, method, seed)
        count = f"all {len(images):,}" if len(images) == len(source) else f"{len(images):,} of {len(source):,}"
        shown = f"{label} of {dataset} test features, {count} images"
        title = f"{_describe(name, summary)}\n{shown}"
        file = out_dir / f"embedding-{name.replace('/', '-')}.png"
        written[name] = plot_embedding(points, source.info.classes, title, file)
    return written, f"{label} of the {dataset} test split, {len(images):,} images"


def _describe(name: str, summary: RunSummary) -> str:
    """``simsiam pre-trained on fashion-mnist (3.91 epochs)``, prefixed with the run's name when it differs."""
    text = f"{summary.method} pre-trained on {summary.dataset}"
    if summary.epochs is not None:
        text += f" ({epochs_text(summary.epochs)} epochs)"
    return text if name == summary.method else f"{name}: {text}"


def _command(paths: list[Path], out_dir: Path, dataset: str | None, embedding: str) -> list[str]:
    command = ["sslkit", "report", *map(str, paths), "--out", str(out_dir)]
    if dataset is not None:
        command += ["--features", dataset, "--embedding", embedding]
    return command
