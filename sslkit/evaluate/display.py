"""How ``sslkit eval`` and ``sslkit transfer`` show a result: a rich table, then the notes that go with it."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from sslkit import distributed


def result_table(result: dict[str, Any]) -> Table:
    """Metrics as percent: the value for one seed; mean ± std and every seed's value for several."""
    seeds = result["seeds"]
    several = len(seeds) > 1
    scored = result["split"] + ("" if "+" in result["split"] else " split")
    title = (f"{result['name']}: {result['dataset']} ({scored}, {result['images'][result['split']]} images, "
             f"{len(seeds)} seed{'s' if several else ''})")
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("mean ± std (%)" if several else "value (%)", justify="right")
    if several:
        table.add_column("per seed (%)", justify="right")
    for key, mean in result["metrics"].items():
        value = f"{100 * mean:.2f}" + (f" ± {100 * result['std'][key]:.2f}" if several else "")
        cells = [key, f"[bold]{value}[/]"]
        if several:
            cells.append("  ".join(f"{100 * row[key]:.2f}" for row in result["per_seed"]))
        table.add_row(*cells)
    return table


def print_result(console: Console, result: dict[str, Any]) -> None:
    """The table, the input adaptations, the notes and the file, on the main process only
    (``torchrun ... -m sslkit eval`` starts several)."""
    if distributed.rank() != 0:
        return
    console.print(result_table(result))
    for note in result.get("adaptation", []):
        console.print(f"[yellow]adaptation:[/] {note}")
    if "note" in result:
        console.print(f"note: {result['note']}")
    if "path" in result:
        console.print(f"-> {result['path']}")
