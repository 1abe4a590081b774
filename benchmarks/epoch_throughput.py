"""End-to-end training throughput (the real trainer) against step-only throughput (ready views).

End to end is :func:`sslkit.engine.trainer.pretrain` itself on random CIFAR-10-format data: the batch
loader, the augmentation of every view, the step, logging. Its cost per step is measured as a
difference, ``(T(short + N steps) - T(short steps)) / N``, so what every run pays once (building the
model, reading the data, the run directory, the final checkpoint) cancels out. Step-only is the same
step on views made once (:class:`step_vs_limit.Trainee`), and "views" is the view maker alone on one
batch, which tells how much of the gap augmentation explains. All cases run interleaved in this one
process; the table shows medians and the ratio step-only / end-to-end (target: at least 0.85).
Usage::

    python benchmarks/epoch_throughput.py                # 4 methods, batch 128, 6 steps, 3 rounds
    python benchmarks/epoch_throughput.py --quick        # SimSiam only, batch 64: about a minute
    python benchmarks/epoch_throughput.py --threads 1 --clock cpu   # steadier on a shared machine
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402,E501
    describe,
    interleaved_times,
    machine,
    median,
    print_table,
    spread,
    write_random_cifar10,
    write_results,
)
from step_vs_limit import METHODS, bench_config, prepare  # noqa: E402

from sslkit.augment import tune_allocator  # noqa: E402
from sslkit.engine.trainer import pretrain  # noqa: E402

E2E_TARGET = 0.85  # end to end must reach 85% of step-only throughput (issue 5)
SHORT = 2  # steps of the run whose cost is subtracted


def method_cases(method: str, data_dir: Path, runs: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The four timed cases of one method: the two trainer runs, the ready-view steps, the views."""
    def config(steps: int, name: str):
        return bench_config(method, data_dir, width=args.width, batch=args.batch, preset=args.preset,
                            steps=steps, out=runs, name=name, log_every=args.log_every)

    counter = {"runs": 0}

    def run(steps: int) -> None:
        counter["runs"] += 1
        pretrain(config(steps, f"{method}-{steps}-{counter['runs']}"), quiet=True)

    trainee = prepare(config(SHORT + args.steps, f"{method}-steps"))
    loader_images = next(iter(_batches(trainee)))
    generator = torch.Generator().manual_seed(0)
    trainee.step()  # first-call costs, once (the trainer runs pay theirs in both the short and long run)

    def steps_only() -> None:
        for _ in range(args.steps):
            trainee.step()

    def views_only() -> None:
        for _ in range(args.steps):
            trainee.comps.views(loader_images, generator, trainee.memory_format)

    return {f"{method} trainer {SHORT} steps": lambda: run(SHORT),
            f"{method} trainer {SHORT + args.steps} steps": lambda: run(SHORT + args.steps),
            f"{method} step-only": steps_only, f"{method} views": views_only}


def _batches(trainee):
    from sslkit.data.loader import BatchLoader

    loader = BatchLoader(trainee.comps.source, trainee.comps.derived["per_process_batch_size"],
                         image_size=trainee.comps.image_size)
    return (images for images, _ in loader.epoch(0))


def summarise(method: str, times: dict[str, list[float]], args: argparse.Namespace) -> dict[str, Any]:
    """Per-step medians and the ratios of one method."""
    n = args.steps
    short, long = times[f"{method} trainer {SHORT} steps"], times[f"{method} trainer {SHORT + n} steps"]
    e2e = median([(b - a) / n for a, b in zip(short, long, strict=True)])
    step = median(times[f"{method} step-only"]) / n
    views = median(times[f"{method} views"]) / n
    return {"method": method, "end_to_end_step_s": e2e, "step_only_s": step, "views_s": views,
            "ratio": step / e2e, "end_to_end_images_per_s": args.batch / e2e,
            "step_only_images_per_s": args.batch / step, "views_per_s": trainee_views(method) * args.batch / views,
            "step_only_iqr": spread(times[f"{method} step-only"]), "trainer_long_iqr": spread(long)}


def trainee_views(method: str) -> int:
    from sslkit import _registry

    return sum(spec.count for spec in _registry.load("methods", method).views)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 base width (torchvision: 64)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6, help="N: steps timed per round (beyond the short run)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians over these)")
    parser.add_argument("--log-every", type=int, default=20, help="the trainer's log interval (its default)")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time (steadier on a shared machine; use with --threads 1)")
    parser.add_argument("--quick", action="store_true", help="SimSiam only, batch 64, 4 steps, 2 rounds")
    parser.add_argument("--out", help="JSON results (default runs/bench/epoch_throughput.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.methods, args.batch, args.steps, args.repeats = "simsiam", min(args.batch, 64), 4, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_allocator()
    info = machine()
    print(describe(info))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = write_random_cifar10(Path(tmp) / "data", n_train=args.batch * (SHORT + args.steps + 1))
        cases: dict[str, Any] = {}
        for method in methods:
            cases.update(method_cases(method, data_dir, Path(tmp) / "runs", args))
        times = interleaved_times(cases, args.repeats, warmup=0, clock=args.clock)
    for method in methods:
        rows.append(summarise(method, times, args))
    print_table(f"end to end vs step-only: resnet18 width {args.width}, batch {args.batch}, preset {args.preset}, "
                f"{args.clock} clock, median of {args.repeats} interleaved rounds of {args.steps} steps "
                f"(target ratio >= {E2E_TARGET})",
                ["method", "end-to-end ms/step", "step-only ms/step", "step-only / e2e", "views ms/batch",
                 "views/s", "e2e images/s"],
                [[r["method"], f"{r['end_to_end_step_s'] * 1e3:,.0f}", f"{r['step_only_s'] * 1e3:,.0f}",
                  f"{r['ratio']:.3f}", f"{r['views_s'] * 1e3:,.1f}", f"{r['views_per_s']:,.0f}",
                  f"{r['end_to_end_images_per_s']:,.0f}"] for r in rows])
    payload = {"benchmark": "epoch_throughput", "command": "python benchmarks/epoch_throughput.py " + " ".join(
               argv if argv is not None else sys.argv[1:]), "machine": info, "settings": vars(args), "rows": rows,
               "times_s": times}
    path = write_results(args.out, "epoch_throughput", payload)
    print(f"results: {path}")
    return payload


if __name__ == "__main__":
    main()
