"""Every method under one wall-clock budget on one dataset: the results table of docs/results.md.

Each row is ``sslkit pretrain METHOD DATASET --preset quick`` (the shared CPU recipe: same backbone,
batch and augmentation for every method) stopped after the number of steps that fits the budget on
this machine, then ``sslkit eval RUN DATASET --protocol knn`` on the test split (final weights, not
the best epoch) and, with ``--linear``, the linear probe ``sslkit eval RUN DATASET --protocol
linear`` (the fast recipe, seed 0 of the probe) on the same weights. The budget is turned into steps
once per method by a short calibration run, all calibrations side by side in this process's run, so
a method that is twice as slow per step gets half the steps; the exact ``--steps`` of every row is
printed with its command, so any row can be re-run alone (with ``--seed N`` for the other seeds:
every seed of a row trains the same steps). With ``--jobs 2 --threads 1`` two rows run side by side
on one core each, and the calibrations run the same way, so every method is measured under the
conditions it trains in.
Usage::

    python benchmarks/results_table.py fashion-mnist --budget 180 --jobs 2 --threads 1   # all rows
    python benchmarks/results_table.py fashion-mnist --budget 180 --only simsiam,dssl-simsiam --seeds 0,1,2
    python benchmarks/results_table.py fashion-mnist --budget 180 --seeds 0,1,2 --linear   # + linear probe

Results accumulate in ``RUNS/results.json`` (a finished row is not re-run, only its missing evaluations;
``--fresh`` starts over)
and the markdown table is printed and written to ``--markdown``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
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


def summary(seeds: dict[str, dict], key: str = "knn_top1") -> str:
    """``83.24`` for one seed, ``82.58 ± 0.16`` (mean ± std) for several; ``—`` when not measured."""
    values = [100 * run[key] for run in seeds.values() if key in run]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def markdown(results: dict, floors: dict | None) -> str:
    """The table: floors first (when given), then one row per method with its seed-0 command."""
    linear = any("linear_top1" in run for r in results.values() for run in r["seeds"].values())
    probe = " linear top-1 (%) |" if linear else ""
    lines = [f"| method | kNN top-1 (%) |{probe} seeds | vs random init | steps (epochs) | `pretrain` wall time | "
             "command |", "|---|---|" + ("---|" if linear else "") + "---|---|---|---|---|"]

    def floor_cell(key: str) -> str:  # a linear-probe floor from knn_floors.py --linear, when measured
        if not linear:
            return ""
        return f" *{100 * floors[key]:.2f}* |" if key in floors else " |"

    random_init = None
    if floors:
        random_init = 100 * floors["random_init"]
        lines.append(f"| *floor: raw pixels, standardised* | *{100 * floors['raw_pixels']:.2f}* |"
                     f"{floor_cell('linear_raw_pixels')} | | | | "
                     f"`python benchmarks/knn_floors.py {floors['dataset']} --backbone {floors['backbone']} "
                     f"--backbone-options '{json.dumps(floors['backbone_options'])}'"
                     f"{' --linear' if 'linear_raw_pixels' in floors else ''}` |")
        lines.append(f"| *floor: the same CNN at random init* | *{random_init:.2f}* |"
                     f"{floor_cell('linear_random_init')} "
                     f"{len(floors['random_init_seeds'])} | | | | the same command |")
    for label, _, _ in ROWS:
        r = results.get(label)
        if r is None or not r["seeds"]:
            continue
        mean = statistics.mean(100 * run["knn_top1"] for run in r["seeds"].values())
        versus = f"{mean - random_init:+.2f}" if random_init is not None else ""
        wall = statistics.median(run["train_seconds"] for run in r["seeds"].values() if run["train_seconds"])
        probe_cell = f" {summary(r['seeds'], 'linear_top1')} |" if linear else ""
        lines.append(f"| {label} | **{summary(r['seeds'])}** |{probe_cell} {','.join(sorted(r['seeds']))} | {versus} | "
                     f"{r['steps']} ({r['epochs']:.1f}) | {wall:.0f} s | `{r['command']}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--budget", type=float, default=120, help="training seconds per method")
    parser.add_argument("--only", help="comma-separated row labels or method names")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds to train each row with")
    parser.add_argument("--runs", type=Path, default=Path("runs/results"))
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--floors", type=Path, help="JSON printed by benchmarks/knn_floors.py, shown first")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--jobs", type=int, default=1, help="rows trained side by side")
    parser.add_argument("--threads", type=int, help="torch threads per row (OMP_NUM_THREADS)")
    parser.add_argument("--linear", action="store_true", help="also the linear probe (fast recipe) of every run")
    args = parser.parse_args()

    installed = set(_registry.names("methods"))
    rows = [r for r in ROWS if r[1] in installed]
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        rows = [r for r in rows if r[0] in wanted or r[1] in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    args.runs.mkdir(parents=True, exist_ok=True)
    store = args.runs / "results.json"
    results = {} if args.fresh or not store.exists() else json.loads(store.read_text())
    lock = threading.Lock()

    # the budget becomes steps once per row: every seed of a row trains the same number of steps
    uncalibrated = [r for r in rows if r[0] not in results]
    with ThreadPoolExecutor(args.jobs) as pool:
        speeds = pool.map(lambda r: steps_per_second(*r, args.dataset, args.runs, args.threads), uncalibrated)
        for (label, method, extra), speed in zip(uncalibrated, speeds, strict=True):
            steps = max(1, round(args.budget * speed))
            command = ["sslkit", "pretrain", method, args.dataset, "--preset", "quick", "--steps", str(steps),
                       "--set", "knn_every=0", "--out", str(args.runs), "--name", slug(label), *extra]
            results[label] = {"method": method, "steps": steps, "calibrated_steps_per_s": speed,
                              "threads": args.threads, "jobs": args.jobs, "command": " ".join(command), "seeds": {}}

    def linear_probe(label: str, name: str, seed: int) -> None:
        log = args.runs / f"{name}.log"
        run([*SSLKIT, "eval", str(args.runs / name), args.dataset, "--protocol", "linear"], log, args.threads)
        probe = json.loads((args.runs / name / "eval" / "linear.json").read_text())
        with lock:
            results[label]["seeds"][str(seed)]["linear_top1"] = probe["metrics"]["top1"]
            store.write_text(json.dumps(results, indent=2))
        print(f"{label} (seed {seed}): linear {100 * probe['metrics']['top1']:.2f}%", flush=True)

    def train(job: tuple[tuple[str, str, list[str]], int]) -> None:
        (label, method, extra), seed = job
        row = results[label]
        name = slug(label) + (f"-seed{seed}" if seed else "")
        if str(seed) in row["seeds"]:  # trained and scored by kNN already: only the linear probe is missing
            linear_probe(label, name, seed)
            return
        cmd = ["pretrain", method, args.dataset, "--preset", "quick", "--steps", str(row["steps"]),
               "--seed", str(seed), "--set", "knn_every=0", "--out", str(args.runs), "--name", name, *extra]
        log = args.runs / f"{name}.log"
        train_seconds = run([*SSLKIT, *cmd], log, args.threads)
        run([*SSLKIT, "eval", str(args.runs / name), args.dataset, "--protocol", "knn"], log, args.threads)
        knn = json.loads((args.runs / name / "eval" / "knn.json").read_text())
        config = json.loads((args.runs / name / "config.json").read_text())
        with lock:
            row["epochs"] = config["derived"]["epochs"]
            row["seeds"][str(seed)] = {"knn_top1": knn["metrics"]["top1"], "train_seconds": train_seconds}
            store.write_text(json.dumps(results, indent=2))
        print(f"{label} (seed {seed}): kNN {100 * knn['metrics']['top1']:.2f}% after {row['steps']} steps "
              f"({train_seconds:.0f} s)", flush=True)
        if args.linear:
            linear_probe(label, name, seed)

    def missing(label: str, seed: int) -> bool:
        done = results[label]["seeds"].get(str(seed))
        return done is None or (args.linear and "linear_top1" not in done)

    jobs = [(r, seed) for seed in seeds for r in rows if missing(r[0], seed)]
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(train, jobs))
    floors = json.loads(args.floors.read_text()) if args.floors else None
    table = markdown(results, floors)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)


if __name__ == "__main__":
    main()
