"""Every method under one wall-clock budget on one dataset: the results table of docs/results.md.

Each row is ``sslkit pretrain METHOD DATASET --preset quick`` (the shared CPU recipe: same backbone,
batch and augmentation for every method) stopped after the number of steps that fits the budget on
this machine, then ``sslkit eval RUN DATASET --protocol knn`` on the test split (final weights, not
the best epoch). The budget is turned into steps once per method by a short calibration run, all
calibrations side by side in this process's run, so a method that is twice as slow per step gets
half the steps; the exact ``--steps`` of every row is printed with its command, so any row can be
re-run alone. With ``--jobs 2 --threads 1`` two rows run side by side on one core each, and the
calibrations run the same way, so every method is measured under the conditions it trains in.
Usage::

    python benchmarks/results_table.py fashion-mnist --budget 150 --jobs 2 --threads 1   # all rows
    python benchmarks/results_table.py fashion-mnist --budget 150 --only simsiam,dssl-simsiam

Results accumulate in ``RUNS/results.json`` (a finished row is not re-run; ``--fresh`` starts over)
and the markdown table is printed and written to ``--markdown``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sslkit import _registry

# (label, method, extra CLI arguments). The symmetric row is the papers' "heavy views treated
# symmetrically" baseline: the same views and pairs as dssl-simsiam with the direction removed.
ROWS: list[tuple[str, str, list[str]]] = [
    ("simsiam", "simsiam", []),
    ("simclr", "simclr", []),
    ("mocov2", "mocov2", []),
    ("byol", "byol", []),
    ("barlowtwins", "barlowtwins", []),
    ("dssl-simsiam", "dssl-simsiam", []),
    ("simsiam, heavy views symmetric", "dssl-simsiam", ["--set", "heavy_mode=symmetric"]),
    ("dssl-byol", "dssl-byol", []),
    ("dssl-simclr", "dssl-simclr", []),
    ("dssl-mocov2", "dssl-mocov2", []),
    ("dssl-barlowtwins", "dssl-barlowtwins", []),
    ("rsa-byol", "rsa-byol", []),
    ("ressl", "ressl", []),
    ("ressl-multicrop", "ressl-multicrop", []),
    ("sacc", "sacc", []),
    ("lewel-byol", "lewel-byol", []),
    ("vicreg (plugin)", "vicreg", []),
]
CALIBRATION_STEPS = 30
SSLKIT = [sys.executable, "-m", "sslkit"]


def slug(label: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in label).strip("-").replace("--", "-")


def run(cmd: list[str], log: Path, threads: int | None) -> float:
    """Run a command with its output appended to ``log``; fail loudly; return its wall time in seconds."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    start = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - start


def steps_per_second(label: str, method: str, extra: list[str], dataset: str, runs: Path,
                     threads: int | None) -> float:
    """Median training speed of a short run, ignoring its first logging window (warm-up)."""
    name = f"calibrate-{slug(label)}"
    run([*SSLKIT, "pretrain", method, dataset, "--preset", "quick", "--steps", str(CALIBRATION_STEPS),
         "--set", "knn_every=0", "--set", "log_every=5", "--out", str(runs), "--name", name, *extra],
        runs / f"{name}.log", threads)
    records = [json.loads(line) for line in (runs / name / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((runs / name / "config.json").read_text())
    batch = config["derived"]["global_batch_size"]
    speeds = [r["images_per_s"] for r in records if "images_per_s" in r][1:]
    return statistics.median(speeds) / batch


def markdown(results: dict, dataset: str, budget: float) -> str:
    lines = ["| method | kNN top-1 (%) | steps (epochs) | `pretrain` wall time | command |",
             "|---|---|---|---|---|"]
    for label, _, _ in ROWS:
        r = results.get(label)
        if r is None:
            continue
        lines.append(f"| {label} | **{100 * r['knn_top1']:.2f}** | {r['steps']} ({r['epochs']:.1f}) | "
                     f"{r['train_seconds']:.0f} s | `{r['command']}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--budget", type=float, default=120, help="training seconds per method")
    parser.add_argument("--only", help="comma-separated row labels or method names")
    parser.add_argument("--runs", type=Path, default=Path("runs/results"))
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--jobs", type=int, default=1, help="rows trained side by side")
    parser.add_argument("--threads", type=int, help="torch threads per row (OMP_NUM_THREADS)")
    args = parser.parse_args()

    installed = set(_registry.names("methods"))
    rows = [r for r in ROWS if r[1] in installed]
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        rows = [r for r in rows if r[0] in wanted or r[1] in wanted]
    args.runs.mkdir(parents=True, exist_ok=True)
    store = args.runs / "results.json"
    results = {} if args.fresh or not store.exists() else json.loads(store.read_text())

    todo = [r for r in rows if r[0] not in results]
    with ThreadPoolExecutor(args.jobs) as pool:
        speeds = dict(zip([r[0] for r in todo], pool.map(
            lambda r: steps_per_second(*r, args.dataset, args.runs, args.threads), todo), strict=True))

    def train(row: tuple[str, str, list[str]]) -> None:
        label, method, extra = row
        steps = max(1, round(args.budget * speeds[label]))
        name = slug(label)
        cmd = ["sslkit", "pretrain", method, args.dataset, "--preset", "quick", "--steps", str(steps),
               "--set", "knn_every=0", "--out", str(args.runs), "--name", name, *extra]
        log = args.runs / f"{name}.log"
        train_seconds = run([*SSLKIT, *cmd[1:]], log, args.threads)
        run([*SSLKIT, "eval", str(args.runs / name), args.dataset, "--protocol", "knn"], log, args.threads)
        knn = json.loads((args.runs / name / "eval" / "knn.json").read_text())
        config = json.loads((args.runs / name / "config.json").read_text())
        results[label] = {"method": method, "steps": steps, "epochs": config["derived"]["epochs"],
                          "calibrated_steps_per_s": speeds[label], "train_seconds": train_seconds,
                          "threads": args.threads, "jobs": args.jobs,
                          "knn_top1": knn["top1"], "command": " ".join(cmd)}
        store.write_text(json.dumps(results, indent=2))
        print(f"{label}: kNN {100 * knn['top1']:.2f}% after {steps} steps ({train_seconds:.0f} s)", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(train, todo))
    table = markdown(results, args.dataset, args.budget)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
