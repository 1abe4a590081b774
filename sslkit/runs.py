"""Open a finished (or interrupted) run: its config, and its method with the latest weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslkit import _registry
from sslkit.config import PretrainConfig
from sslkit.engine import checkpoint, rundir
from sslkit.engine.build import build_backbone, build_method
from sslkit.errors import SSLKitError
from sslkit.methods.base import Method


@dataclass
class Run:
    """A run directory with its resolved config and derived values."""

    path: Path
    config: PretrainConfig
    derived: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        if not path.is_dir():
            raise SSLKitError(f"run directory {path} does not exist")
        payload = rundir.read_config(path)
        try:
            config = PretrainConfig(**payload["config"])
        except (KeyError, TypeError) as error:
            raise SSLKitError(f"{path}/config.json is not an sslkit run config ({error})") from error
        return cls(path, config, payload.get("derived", {}))

    def load_method(self) -> tuple[Method, int]:
        """Rebuild the method and load the newest checkpoint; returns ``(method, step)``."""
        state = checkpoint.load_latest(self.path)
        if state is None:
            raise SSLKitError(f"run {self.path} has no checkpoint yet; train it first "
                              f"(sslkit pretrain ... --resume {self.path})")
        cfg, derived = self.config, self.derived
        backbone = build_backbone(derived["backbone"], derived["channels"], derived["image_size"],
                                  cfg.backbone_options)
        method = build_method(_registry.load("methods", cfg.method), backbone, cfg.method_options)
        try:
            method.load_state_dict(state["model"])
        except RuntimeError as error:
            raise SSLKitError(f"the checkpoint in {self.path} does not match method {cfg.method!r} "
                              f"({str(error).splitlines()[0]})") from error
        method.eval()
        return method, int(state["step"])


def eval_results(run: Path) -> dict[str, Any]:
    """Results recorded in ``run/eval/*.json`` and the last kNN monitor value of ``metrics.jsonl``."""
    results: dict[str, Any] = {}
    for path in sorted((Path(run) / "eval").glob("*.json")):
        record = json.loads(path.read_text())
        results[path.stem] = {k: v for k, v in record.items() if k in ("dataset", "split", "top1", "k", "temperature")}
    metrics = Path(run) / "metrics.jsonl"
    if metrics.is_file():
        knn = [json.loads(line) for line in metrics.read_text().splitlines() if '"knn_top1"' in line]
        if knn:
            results["knn_monitor"] = {"top1": knn[-1]["knn_top1"], "epoch": knn[-1]["epoch"]}
    return results


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, overwrite: bool = False) -> Path:
    """Export the backbone of a run's newest checkpoint to ``out_dir`` (default ``RUN/export``)."""
    from sslkit.export import write_export

    run = Run.open(run_dir)
    method, step = run.load_method()
    derived = run.derived
    meta = {"method": run.config.method, "dataset": run.config.dataset,
            "epochs": round(step / derived["steps_per_epoch"], 3), "recipe": run.config.to_dict(),
            "mean": derived["mean"], "std": derived["std"]}
    out = Path(out_dir) if out_dir is not None else run.path / "export"
    return write_export(method.backbone, out, meta=meta, eval_results=eval_results(run.path), overwrite=overwrite)
