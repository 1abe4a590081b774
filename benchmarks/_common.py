"""What every speed benchmark shares: side-by-side timing, the machine, the table and the JSON file.

Every figure a benchmark reports is a median over repeats taken in *one* process, with the cases
interleaved (round ``r`` runs every case once, in an order rotated by ``r``), so slow drift of the
machine (other processes, thermal state) hits every case alike and the ratios stay meaningful even
when the absolute figures move.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def interleaved_times(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                      clock: str = "wall") -> dict[str, list[float]]:
    """Seconds of every case over ``repeats`` rounds, the cases interleaved within each round.

    ``clock="cpu"`` counts the CPU time of the whole process (all its threads) instead of wall
    time: on a machine shared with other processes it does not count the time this process waited
    for a core, so it is the steadier measure there, and equals wall time with one thread on an idle
    core.

    Args:
        cases: Name -> a callable doing one unit of work (one training step, one batch of views).
        repeats: Rounds; every case runs once per round, in an order rotated by the round index.
        warmup: Untimed rounds first (allocator, caches, lazy initialisation, ``torch.compile``).

    Returns:
        Name -> the list of ``repeats`` times in seconds.
    """
    now = CLOCKS[clock]
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = now()
            cases[name]()
            times[name].append(now() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> float:
    """Relative interquartile range (IQR / median): how much to trust a median."""
    if len(values) < 4:
        return (max(values) - min(values)) / statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures: cores, CPU, torch, threads, load."""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_at_start": list(os.getloadavg()),
    }


def describe(info: dict[str, Any]) -> str:
    load = ", ".join(f"{v:.2f}" for v in info["load_average_at_start"])
    return (f"{info['nproc']} cores ({info['cpu']}), torch {info['torch']} with {info['torch_threads']} "
            f"thread(s), {info['cpu_capability']}; load average at start {load}")


def write_results(out: str | None, name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the load average at the end) as JSON to ``out`` or runs/bench/NAME.json."""
    path = Path(out) if out else Path("runs") / "bench" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "load_average_at_end": list(os.getloadavg())}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table (plain text when the output is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, int(os.environ.get("COLUMNS", "0") or 0))).print(table)


def write_random_cifar10(folder: str | Path, n_train: int, n_test: int = 16, seed: int = 0) -> Path:
    """Random images in the official CIFAR-10 "python version" layout (what ``cifar10`` reads).

    Speed does not depend on the pixels, so benchmarks train the real loader on this offline stand-in.
    Returns ``folder`` (pass it as ``data_dir``).
    """
    root = Path(folder) / "cifar-10-batches-py"
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def dump(obj: dict[str, Any], name: str) -> None:
        with (root / name).open("wb") as handle:
            pickle.dump(obj, handle, protocol=4)  # 2 would need _codecs for bytes

    for _split, n, names in (("train", n_train, [f"data_batch_{i}" for i in range(1, 6)]),
                            ("test", n_test, ["test_batch"])):
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        for part, part_labels, name in zip(np.array_split(data, len(names)), np.array_split(labels, len(names)),
                                           names, strict=True):
            dump({"data": part, "labels": [int(v) for v in part_labels]}, name)
    dump({"label_names": [f"class_{i}" for i in range(10)]}, "batches.meta")
    return Path(folder)
