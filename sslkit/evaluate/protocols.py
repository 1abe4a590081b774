"""``sslkit eval``: run an evaluation protocol on a run or an export and record the result."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import track

from sslkit.data.loader import BatchLoader
from sslkit.data.open import open_source
from sslkit.errors import SSLKitError
from sslkit.evaluate.knn import extract_features, knn_accuracy

PROTOCOLS = ("knn",)


def open_backbone(target: str | Path) -> tuple[Callable[[torch.Tensor], torch.Tensor], dict[str, Any]]:
    """Features function and input spec (``image_size``, ``channels``, ``mean``, ``std``) of a run or export."""
    target = Path(target)
    config_path = target / "config.json"
    if not config_path.is_file():
        raise SSLKitError(f"{target} is neither an sslkit run nor an export directory (no config.json)")
    payload = json.loads(config_path.read_text())
    if "config" in payload:  # a run directory
        from sslkit.runs import Run

        run = Run.open(target)
        method, step = run.load_method()
        spec = {key: run.derived[key] for key in ("image_size", "channels", "mean", "std")}
        return method.features, {**spec, "source": f"{target} (step {step})"}
    from sslkit.export import load_backbone

    backbone = load_backbone(target)
    cfg = payload.get("pretrained_cfg", {})
    channels, height, _ = cfg["input_size"]
    return backbone, {"image_size": height, "channels": channels, "mean": cfg["mean"], "std": cfg["std"],
                      "source": str(target)}


def evaluate(target: str | Path, dataset: str, protocol: str = "knn", *, k: int = 200, temperature: float = 0.1,
             data_dir: str | None = None, batch_size: int = 512, split: str = "test",
             progress: bool = False) -> dict[str, Any]:
    """Evaluate the backbone of ``target`` on ``dataset``; writes ``target/eval/<protocol>.json``."""
    if protocol not in PROTOCOLS:
        raise SSLKitError(f"unknown protocol {protocol!r}; available now: {', '.join(PROTOCOLS)}")
    if k <= 0 or temperature <= 0 or batch_size <= 0:
        raise SSLKitError("--k, --t and --batch-size must be positive")
    features, spec = open_backbone(target)
    bank_source = open_source(dataset, "train", data_dir)
    query_source = open_source(dataset, split, data_dir)
    if bank_source.info.channels != spec["channels"]:
        raise SSLKitError(f"the backbone takes {spec['channels']}-channel images but {dataset} has "
                          f"{bank_source.info.channels}; cross-dataset evaluation is `sslkit transfer`")
    mean = torch.tensor(spec["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(spec["std"]).view(1, -1, 1, 1)

    def transform(images: torch.Tensor) -> torch.Tensor:
        return (images.float().div_(255) - mean) / std

    def batches(source, what: str):
        loader = BatchLoader(source, batch_size, image_size=spec["image_size"], shuffle=False, drop_last=False)
        return track(loader.epoch(0), total=len(loader), description=f"features of {what}", disable=not progress,
                     console=Console(stderr=True), transient=True)

    start = time.perf_counter()
    with torch.no_grad():
        bank, bank_labels = extract_features(features, batches(bank_source, "the train split"), transform)
        queries, labels = extract_features(features, batches(query_source, f"the {split} split"), transform)
    top1 = knn_accuracy(bank, bank_labels, queries, labels, bank_source.info.num_classes, k, temperature)
    result = {"protocol": protocol, "dataset": dataset, "split": split, "top1": top1, "k": k,
              "temperature": temperature, "bank": len(bank), "queries": len(queries), "backbone": spec["source"],
              "seconds": round(time.perf_counter() - start, 2)}
    path = Path(target) / "eval" / f"{protocol}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "path": str(path)}
