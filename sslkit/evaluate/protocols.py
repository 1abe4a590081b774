"""``sslkit eval`` and ``sslkit transfer``: run a protocol over seeds on a run or an export, record the result.

Every protocol is a function ``fn(ctx, seed, **options) -> {metric: value}`` for one seed (values are
fractions). :func:`evaluate` opens the backbone and the dataset once, runs the protocol for each seed
(features are computed once and shared by the seeds), and writes ``TARGET/eval/<name>.json``:

```
{"protocol": "linear", "name": "linear", "dataset": "fashion-mnist", "split": "test", "seeds": [0, 1, 2],
 "metrics": {"top1": 0.853}, "std": {"top1": 0.002}, "counts": {}, "per_seed": [{"seed": 0, "top1": 0.851}, ...],
 "options": {...}, "backbone": "...", "pretrained": {...}, "adaptation": [...], "seconds": 12.3}
```

``std`` is the sample standard deviation over seeds (0 for one seed). kNN is deterministic, so it runs
once whatever the number of seeds. In a distributed launch (``torchrun``/``accelerate launch``) the
feature extraction is sharded over the processes and gathered; the main process writes the file.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from sslkit.data.open import open_source, split_spec
from sslkit.errors import SSLKitError
from sslkit.evaluate.context import EvalContext, open_backbone
from sslkit.evaluate.knn import knn_accuracy


def knn(ctx: EvalContext, seed: int, *, k: int = 200, temperature: float = 0.1) -> dict[str, float]:
    """Weighted kNN top-1 (METHODS.md §0.6): the train split's L2-normalised features are the bank."""
    if k <= 0 or temperature <= 0:
        raise SSLKitError(f"--k and --t must be positive (got k={k}, t={temperature})")
    bank, bank_labels = ctx.features("train")
    queries, labels = ctx.features("test")
    top1 = knn_accuracy(F.normalize(bank, dim=1), bank_labels, F.normalize(queries, dim=1), labels,
                        ctx.num_classes, k, temperature)
    return {"top1": top1}


def _linear(ctx: EvalContext, seed: int, **options: Any) -> dict[str, float]:
    from sslkit.evaluate.linear import linear_probe

    return linear_probe(ctx, seed, **options)


def _finetune(ctx: EvalContext, seed: int, **options: Any) -> dict[str, float]:
    from sslkit.evaluate.finetune import finetune

    return finetune(ctx, seed, **options)


def _cluster(ctx: EvalContext, seed: int, **options: Any) -> dict[str, float]:
    from sslkit.evaluate.cluster import cluster

    return cluster(ctx, seed, **options)


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol: its function, whether seeds change its result, and its options."""

    run: Callable[..., dict[str, float]]
    seeded: bool
    options: tuple[str, ...]
    description: str
    scored_on: Callable[[dict[str, Any], str], str] = lambda options, split: split  # what the numbers cover


PROTOCOLS: dict[str, Protocol] = {
    "knn": Protocol(knn, False, ("k", "temperature"), "weighted kNN on frozen features (k=200, t=0.1)"),
    "linear": Protocol(_linear, True, ("recipe", "epochs", "lr", "batch_size"),
                       "linear probe on the frozen backbone (fast: cached features; paper: METHODS.md §2.1)"),
    "finetune": Protocol(_finetune, True, ("fraction", "epochs", "backbone_lr", "head_lr", "batch_size"),
                         "fine-tune backbone + head on a stratified label fraction (METHODS.md §2.3)"),
    "cluster": Protocol(_cluster, True, ("source", "labels", "on"),
                        "NMI / ACC / ARI of the method's cluster head or k-means (METHODS.md §2.4)",
                        lambda options, split: options.get("on", "train+test")),
}


def result_name(protocol: str, options: dict[str, Any], dataset: str, pretrained_on: str | None) -> str:
    """File stem under ``eval/``: the protocol and the variant that changes its meaning, and the dataset
    when it is not the one the backbone was pretrained on."""
    name = protocol
    if protocol == "linear" and options.get("recipe", "fast") != "fast":
        name += f"-{options['recipe']}"
    if protocol == "finetune":
        name += f"-{_percent(options.get('fraction', 0.1))}pct"
    if protocol == "cluster":
        name += "".join(f"-{options[key]}" for key in ("source", "labels") if options.get(key, "auto") != "auto")
        name += "" if options.get("on", "train+test") == "train+test" else f"-on-{options['on']}"
    if pretrained_on is not None and dataset != pretrained_on:
        name += f"-{_slug(dataset)}"
    return name


def _percent(fraction: float) -> str:
    return f"{100 * float(fraction):g}"


def _slug(spec: str) -> str:
    name, path = split_spec(spec)
    return name if path is None else f"{name}-{Path(path).name}"


COUNTS = ("labelled", "clusters")  # what protocols report that is a count, not a fraction


def summarise(per_seed: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation (0 for one seed) of each metric over seeds (counts excluded)."""
    metrics, std = {}, {}
    for key in per_seed[0]:
        if key == "seed" or key in COUNTS:
            continue
        values = [float(row[key]) for row in per_seed]
        mean = sum(values) / len(values)
        metrics[key] = mean
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        std[key] = math.sqrt(var)
    return metrics, std


def maybe_init_distributed() -> None:
    """Join the process group of a ``torchrun``/``accelerate launch`` start (gloo on CPU, nccl on GPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)


def evaluate(target: str | Path, dataset: str, protocol: str = "knn", *, seeds: int = 1, seed: int = 0,
             data_dir: str | None = None, batch_size: int = 512, split: str = "test", progress: bool = False,
             transfer_mode: str | None = None, name: str | None = None, **options: Any) -> dict[str, Any]:
    """Evaluate the backbone of ``target`` on ``dataset``; writes ``target/eval/<name>.json``.

    Args:
        target: A run directory or an export folder.
        dataset: Dataset spec (``fashion-mnist``, ``cifar10``, ``imagefolder:PATH`` ...); its ``train``
            split trains the probe / is the kNN bank, ``split`` is scored.
        protocol: ``knn``, ``linear``, ``finetune`` or ``cluster``.
        seeds: Number of repetitions (seeds ``seed .. seed + seeds - 1``); mean ± std are reported.
        seed: The first seed.
        data_dir: Where to look for the dataset first.
        batch_size: Feature-extraction batch size.
        split: The split the numbers are reported on.
        progress: Progress bars on stderr.
        transfer_mode: Set by :func:`transfer`: adapt channels and resolution, record how.
        name: File stem under ``eval/`` (default: :func:`result_name`).
        **options: The protocol's options (see :data:`PROTOCOLS`).

    Returns:
        The recorded result, plus ``path`` (the JSON file; absent on non-main processes).
    """
    if protocol not in PROTOCOLS:
        raise SSLKitError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise SSLKitError(f"protocol {protocol} has no option {', '.join(unknown)}; its options: "
                          f"{', '.join(spec.options)}")
    if seeds < 1:
        raise SSLKitError(f"--seeds must be at least 1 (got {seeds})")
    options = {key: value for key, value in options.items() if value is not None}
    maybe_init_distributed()
    backbone = open_backbone(target)
    train, test = open_source(dataset, "train", data_dir), open_source(dataset, split, data_dir)
    ctx = EvalContext(backbone, train, test, batch_size=batch_size, progress=progress,
                      adapt_channels=transfer_mode is not None)
    seed_list = list(range(seed, seed + seeds)) if spec.seeded else [seed]
    start = time.perf_counter()
    per_seed = []
    for s in seed_list:
        torch.manual_seed(s)  # for anything a protocol leaves to the global generator
        per_seed.append({"seed": s, **spec.run(ctx, s, **options)})
    metrics, std = summarise(per_seed)
    result = {"protocol": protocol,
              "name": name or result_name(protocol, options, dataset, backbone.info.get("dataset")),
              "dataset": dataset, "split": spec.scored_on(options, split), "seeds": seed_list,
              "metrics": metrics, "std": std,
              "counts": {key: per_seed[0][key] for key in COUNTS if key in per_seed[0]},
              "per_seed": per_seed, "options": options, "backbone": backbone.source, "pretrained": backbone.info,
              "images": {"train": len(train), split: len(test), "train+test": len(train) + len(test)},
              "seconds": round(time.perf_counter() - start, 2)}
    if transfer_mode is not None:
        result.update(mode=transfer_mode, adaptation=ctx.adaptation() or ["none: same channels and size"])
    elif ctx.adaptation():
        result["adaptation"] = ctx.adaptation()
    if seeds > 1 and not spec.seeded:
        result["note"] = f"{protocol} is deterministic: evaluated once"
    if not ctx.is_main:
        return result
    path = Path(target) / "eval" / f"{result['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "path": str(path)}


TRANSFER_MODES = ("linear", "finetune")  # each is the protocol of the same name


def transfer(target: str | Path, dataset: str, mode: str = "linear", **kwargs: Any) -> dict[str, Any]:
    """Evaluate a backbone on another dataset (``linear`` probe or ``finetune``), adapting its input.

    Images are resized to the backbone's resolution and grey <-> RGB converted when the channel
    counts differ; the result records each adaptation. Fine-tuning defaults to all labels
    (``fraction=1``). Writes ``target/eval/transfer-<mode>-<dataset>.json``.
    """
    if mode not in TRANSFER_MODES:
        raise SSLKitError(f"unknown transfer mode {mode!r}; choose linear or finetune")
    if mode == "finetune":
        kwargs.setdefault("fraction", 1.0)
    kwargs.setdefault("name", f"transfer-{mode}-{_slug(dataset)}")
    return evaluate(target, dataset, mode, transfer_mode=mode, **kwargs)
