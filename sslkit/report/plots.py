"""The report's figures: training loss and kNN monitor per run, and 2D feature embeddings.

Matplotlib is imported lazily (``import sslkit.report`` stays cheap) and figures are drawn on an
Agg canvas directly, without pyplot, so the process-wide backend and pyplot's figure list are left
alone. Each run keeps its colour in every figure.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sslkit.report.runs import RunSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sslkit.report.embedding import Embedding

# A y range wider than this factor (all values positive) is drawn on a log scale.
LOG_SCALE_RATIO = 30.0
DPI = 120
_LEGEND_MARKER_AREA = 40.0  # points^2 of a legend marker, whatever the size of the scatter's points


def plot_loss(runs: list[RunSummary], names: list[str], path: Path) -> Path | None:
    """Loss against epoch, one line per run; None (nothing written) when no run logged a loss."""
    curves = [(name, run.loss) for run, name in zip(runs, names, strict=True)]
    if not any(points for _, points in curves):
        return None
    fig, ax = _figure(names)
    for index, (name, points) in enumerate(curves):
        if points:
            epochs, values = zip(*points, strict=True)
            ax.plot(epochs, values, label=name, color=_colour(index, len(names)), linewidth=1.4)
    values = [value for _, points in curves for _, value in points]
    if min(values) > 0 and max(values) / min(values) > LOG_SCALE_RATIO:
        ax.set_yscale("log")
    _finish(fig, ax, "Training loss", "loss (each method on its own scale)")
    return _save(fig, path)


def plot_knn(runs: list[RunSummary], names: list[str], path: Path) -> Path | None:
    """kNN monitor top-1 (percent) against epoch per run; None when no run has the monitor."""
    if not any(run.knn_monitor for run in runs):
        return None
    fig, ax = _figure(names)
    for index, (run, name) in enumerate(zip(runs, names, strict=True)):
        if run.knn_monitor:
            epochs, top1 = zip(*run.knn_monitor, strict=True)
            ax.plot(epochs, [100 * v for v in top1], label=name, color=_colour(index, len(names)),
                    marker="o", markersize=3, linewidth=1.4)
    _finish(fig, ax, "kNN monitor during training", "kNN top-1 (%)")
    return _save(fig, path)


def plot_embedding(embedding: Embedding, class_names: tuple[str, ...], title: str, path: Path) -> Path:
    """Scatter of 2D points coloured by label, with a legend of class names beside the axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.6, 6.4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    labels = embedding.labels
    present = sorted(int(label) for label in np.unique(labels))
    size = float(np.clip(16000 / max(len(labels), 1), 6, 40))  # marker area: 8 at 2,000 points
    for rank, label in enumerate(present):
        mask = labels == label
        name = class_names[label] if 0 <= label < len(class_names) else ("unlabelled" if label < 0 else str(label))
        colour = "0.6" if label < 0 else _colour(rank, len(present))
        ax.scatter(embedding.points[mask, 0], embedding.points[mask, 1], s=size, color=colour, alpha=0.75,
                   linewidths=0, label=name, rasterized=True)
    ax.set_xlabel(embedding.axes[0])
    ax.set_ylabel(embedding.axes[1])
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.25)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False,
                       markerscale=math.sqrt(_LEGEND_MARKER_AREA / size), ncols=math.ceil(len(present) / 25),
                       title="class", borderaxespad=0)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    return _save(fig, path)


def _figure(names: list[str]) -> tuple[Figure, object]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.6 if len(names) > 5 else 7.2, 4.6), dpi=DPI, layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig: Figure, ax: object, title: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    handles = ax.get_legend_handles_labels()[0]
    if len(handles) > 5:  # many runs: the legend goes beside the axes, not over the curves
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False, borderaxespad=0)
    else:
        ax.legend(fontsize="small")


def _colour(index: int, count: int) -> tuple[float, ...]:
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"](index)
    if count <= 20:
        return colormaps["tab20"](index)
    return colormaps["turbo"](index / max(count - 1, 1))


def _save(fig: Figure, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
