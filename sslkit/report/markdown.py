"""``report.md``: the table, the figures and the exact runs and command behind them."""

from __future__ import annotations

import shlex
from pathlib import Path

from sslkit.report.table import markdown_table

_LEGEND = ("Results are percent (top-1 for kNN, linear, finetune and transfer; NMI / ACC / ARI for "
           "clustering; METHODS.md §2), `± std` over the evaluation's seeds when there are several; "
           "`(monitor)` is the last kNN monitor of training, shown when the run has no `sslkit eval` kNN "
           "result; `—` means not measured. Epochs are the last logged step over the steps per epoch; "
           "images/s is the median training throughput of the logged steps.")


def write_markdown(path: Path, rows: list[dict[str, str]], runs: list[Path], names: list[str],
                   figures: dict[str, Path], embeddings: dict[str, Path], command: list[str],
                   embedding_note: str | None) -> Path:
    """Write the report to ``path``; figures are linked relative to it."""
    lines = ["# sslkit report", "", "## Results", "", _LEGEND, "", markdown_table(rows)]
    titles = {"loss": "Training loss", "knn": "kNN monitor"}
    for key, figure in figures.items():
        lines += [f"## {titles.get(key, key)}", "", f"![{titles.get(key, key)}]({_relative(figure, path)})", ""]
    if embeddings:
        lines += [f"## Feature embeddings ({embedding_note})", ""]
        for name, figure in embeddings.items():
            lines += [f"### {name}", "", f"![embedding of {name}]({_relative(figure, path)})", ""]
    lines += ["## Runs", ""]
    lines += [f"- `{name}`: `{run.resolve()}`" for name, run in zip(names, runs, strict=True)]
    lines += ["", "Regenerate with:", "", "```bash", shlex.join(command), "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def _relative(figure: Path, report: Path) -> str:
    try:
        return figure.resolve().relative_to(report.resolve().parent).as_posix()
    except ValueError:
        return figure.resolve().as_posix()
