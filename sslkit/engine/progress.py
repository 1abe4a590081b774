"""What a person watching a run sees: the derived values up front, a live bar, a summary at the end.

Only the main process shows anything (``enabled=False`` elsewhere). Everything shown here is also in
``config.json`` / ``metrics.jsonl``, so non-interactive logs lose nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


class TrainingProgress:
    """A rich progress bar with loss, lr, images/s and ETA, plus the run's header and summary."""

    def __init__(self, total: int, enabled: bool = True, start: int = 0) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, disable=not enabled,
        )
        self.task = self.progress.add_task("pretrain", total=total, completed=start, info="")
        self.last: dict[str, Any] = {}

    def __enter__(self) -> TrainingProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self.enabled:
            self.console.print(*args, **kwargs)

    def describe(self, cfg: Any, derived: dict[str, Any], run: Path, resumed_at: int | None) -> None:
        """Print the derived quantities once, before step 1 (STYLE.md principle 7)."""
        if not self.enabled:
            return
        table = Table(title=f"sslkit pretrain {cfg.method} {cfg.dataset} (preset {cfg.preset})",
                      show_header=False, title_justify="left")
        rows = [
            ("run directory", str(run) + (f"  (resumed at step {resumed_at})" if resumed_at is not None else "")),
            ("data", f"{derived['train_images']} images, {derived['channels']}x{derived['image_size']}px, "
                     f"{derived['dataset_root'] or 'bundled'}"),
            ("backbone", f"{derived['backbone']} ({derived['backbone_parameters'] / 1e6:.2f}M params; "
                         f"method total {derived['method_parameters'] / 1e6:.2f}M)"),
            ("views", ", ".join(f"{role}={spec}" for role, spec in derived["views"].items())
             + f"  ({derived['views_per_image']} per image)"),
            ("batch", f"{derived['global_batch_size']} global = {derived['num_processes']} process(es) x "
                      f"{derived['per_process_batch_size']}"),
            ("schedule", f"{derived['total_steps']} steps = {derived['epochs']:g} epochs x "
                         f"{derived['steps_per_epoch']} steps, warm-up {derived['warmup_steps']} steps"),
            ("optimizer", f"{cfg.optimizer} lr {derived['lr']:.4g} (base {cfg.lr:g} x {cfg.lr_scaling} scaling), "
                          f"wd {cfg.weight_decay or 0:g}"),
            ("kNN monitor", f"every {cfg.knn_every} epoch(s), k={cfg.knn_k}, t={cfg.knn_t}"
             if derived["knn_monitor"] else f"off ({derived.get('knn_monitor_off', 'no labelled eval split')})"),
        ]
        for key, value in rows:
            table.add_row(f"[cyan]{key}", value)
        self.console.print(table)

    def update(self, step: int, record: dict[str, Any]) -> None:
        self.last = record
        info = f"loss {record['loss']:.4f}  lr {record['lr']:.3g}  {record['images_per_s']:.0f} img/s"
        if "embedding_std" in record:
            info += f"  z-std {record['embedding_std']:.2f}"
        self.progress.update(self.task, completed=step, info=info)

    def status(self, text: str) -> None:
        self.progress.update(self.task, info=text + "...")

    def epoch_done(self, epoch: int, knn: float | None) -> None:
        if knn is not None:
            self.progress.console.print(f"epoch {epoch}: kNN top-1 {100 * knn:.2f}%") if self.enabled else None

    def finish(self, summary: dict[str, Any]) -> None:
        if not self.enabled:
            return
        knn = summary.get("knn_top1")
        result = f"kNN top-1 {100 * knn:.2f}%" if knn is not None else "no kNN monitor"
        self.console.print(f"[green]done[/]: {summary['steps']} steps, {result}; run in [bold]{summary['run']}")
