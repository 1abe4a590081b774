"""``sslkit list``: rich tables of every registered name, its distribution and a one-line summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sslkit import _registry
from sslkit.errors import SSLKitError


def print_groups(console: Console, group: str | None = None) -> None:
    """Print one table per group; a plugin that fails to import shows its error instead of a summary."""
    groups = _registry.GROUPS if group is None else (group,)
    if group is not None and group not in _registry.GROUPS:
        raise SSLKitError(f"unknown group {group!r}; valid: {', '.join(_registry.GROUPS)}")
    for name in groups:
        table = Table(title=name, title_justify="left")
        table.add_column("name", style="bold cyan")
        table.add_column("origin")
        table.add_column("summary")
        for entry in _registry.entries(name).values():
            try:
                summary = _registry.summary(entry.load())
            except SSLKitError as error:
                summary = f"[red]failed to load: {error}"
            table.add_row(entry.name, entry.distribution, summary)
        console.print(table)
