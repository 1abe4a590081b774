"""The report's table: one row of text cells per run, as a rich table or GitHub markdown.

Columns: run, method, dataset, epochs, kNN, linear, then finetune, cluster NMI / ACC / ARI, transfer
and any other evaluation only when at least one run has it (a column of dashes says nothing), then
images/s. Results are percent with two decimals and ``± std`` over seeds (METHODS.md §2 protocols);
``—`` marks a missing value.
"""

from __future__ import annotations

from rich.table import Table

from sslkit.report.runs import RunSummary

MISSING = "—"
_LEADING = ("run", "method", "dataset", "epochs")
_ALWAYS = ("kNN", "linear")
_KNOWN_ORDER = ("kNN", "linear", "finetune", "cluster NMI", "cluster ACC", "cluster ARI")
_TRAILING = ("images/s",)


def table_rows(runs: list[RunSummary], names: list[str]) -> list[dict[str, str]]:
    """One ``{column: text}`` dict per run, every dict with the same columns in table order."""
    columns = result_columns(runs)
    rows = []
    for run, name in zip(runs, names, strict=True):
        row = {"run": name, "method": run.method, "dataset": run.dataset, "epochs": epochs_text(run.epochs)}
        row.update({column: run.results[column].text() if column in run.results else MISSING for column in columns})
        row["images/s"] = f"{run.images_per_s:,.0f}" if run.images_per_s is not None else MISSING
        rows.append(row)
    return rows


def result_columns(runs: list[RunSummary]) -> list[str]:
    """kNN and linear always, the other known protocols in order, then the rest (transfer, ...) sorted."""
    present = {column for run in runs for column in run.results}
    known = [column for column in _KNOWN_ORDER if column in _ALWAYS or column in present]
    return known + sorted(present - set(_KNOWN_ORDER))


def render_table(rows: list[dict[str, str]], title: str | None = None) -> Table:
    """A rich table of :func:`table_rows` (numbers right-aligned)."""
    table = Table(title=title)
    columns = list(rows[0]) if rows else list(_LEADING + _ALWAYS + _TRAILING)
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "method", "dataset") else "right",
                         no_wrap=column == "run")
    for row in rows:
        table.add_row(*(row.get(column, MISSING) for column in columns))
    return table


def markdown_table(rows: list[dict[str, str]]) -> str:
    """GitHub markdown of :func:`table_rows` (text columns left-aligned, numbers right-aligned)."""
    if not rows:
        return ""
    columns = list(rows[0])
    align = [":---" if column in ("run", "method", "dataset") else "---:" for column in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_escape(row.get(column, MISSING)) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def epochs_text(epochs: float | None) -> str:
    """``20`` for whole epochs, else two decimals (``3.91``, ``4.10``); ``—`` when unknown."""
    if epochs is None:
        return MISSING
    return f"{epochs:.0f}" if abs(epochs - round(epochs)) < 5e-3 else f"{epochs:.2f}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
