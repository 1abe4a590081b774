"""The training step of each method against its limit, the bare backbone's forward+backward.

The limit of a step is the backbone's forward and backward over the same views the method consumes
(same count, same sizes, each view its own forward pass as the methods do, one backward). The step is
everything the trainer does between receiving the views and the next batch: the lr schedule, the
method's forward (heads, losses, EMA target), the backward, the optimizer step, ``after_step`` (EMA
update). Components are built exactly as the trainer builds them (:func:`sslkit.engine.build.build` on a
resolved config, :func:`~sslkit.engine.optim.build_optimizer`, the channels-last memory format), on
random CIFAR-10-format data. Every case runs interleaved with the others in this one process; the
table shows medians and the ratio step / limit (target on a CPU: at most 1.10).

Beside the main table: the limit with and without channels_last, the optimizer step with the
for-loop, foreach and fused SGD kernels, the EMA update with a per-tensor loop and with
``torch._foreach_lerp_``, and (``--compile``) the compiled backbone. Usage::

    python benchmarks/step_vs_limit.py                  # ResNet-18 width 16, 32x32x3, batch 256, 7 rounds
    python benchmarks/step_vs_limit.py --quick          # batch 64, 3 rounds: about a minute
    python benchmarks/step_vs_limit.py --threads 1 --clock cpu   # steadier on a shared machine
    python benchmarks/step_vs_limit.py --compile --methods simsiam
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    describe,
    interleaved_times,
    machine,
    median,
    print_table,
    spread,
    write_random_cifar10,
    write_results,
)

from sslkit import _registry  # noqa: E402
from sslkit.augment import tune_allocator  # noqa: E402
from sslkit.config import PretrainConfig, resolve  # noqa: E402
from sslkit.data.loader import BatchLoader  # noqa: E402
from sslkit.engine.build import Components, build  # noqa: E402
from sslkit.engine.optim import build_optimizer, set_lr  # noqa: E402
from sslkit.engine.schedule import warmup_cosine  # noqa: E402
from sslkit.models.ema import EMA  # noqa: E402

METHODS = ("simsiam", "byol", "dssl-simsiam", "simclr")
STEP_TARGET = 1.10  # the step may cost at most 10% more than the limit (issue 5)


def bench_config(method: str, data_dir: str | Path, *, width: int, batch: int, preset: str = "quick",
                 channels_last: bool = True, compile: bool = False, steps: int = 1000,
                 out: str | Path = "runs/bench/runs", **extra: Any) -> PretrainConfig:
    """The resolved config of a benchmark run: the method's preset on a ResNet-18 of ``width``."""
    sets = {"backbone": "resnet18", "backbone_options": {"width": width}, "batch_size": batch, "steps": steps,
            "num_workers": 0, "knn_every": 0, "data_dir": str(data_dir), "channels_last": channels_last,
            "compile": compile, "out": str(out), "checkpoint_every": 10**9, **extra}
    return resolve(method, "cifar10", _registry.load("methods", method), preset=preset, sets=sets)


@dataclass
class Trainee:
    """A method built as the trainer builds it, with its optimizer and one batch of ready views."""

    cfg: PretrainConfig
    comps: Components
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    views: dict[str, list[torch.Tensor]]
    memory_format: torch.memory_format
    step_index: int = 0

    @property
    def view_list(self) -> list[torch.Tensor]:
        return [v for vs in self.views.values() for v in vs]

    def signature(self) -> str:
        """The views' count and shapes, e.g. ``2x(256, 3, 32, 32)``: the key of the limit they share."""
        shapes = [tuple(v.shape) for v in self.view_list]
        unique = sorted(set(shapes))
        return " + ".join(f"{shapes.count(s)}x{s}" for s in unique)

    def step(self) -> torch.Tensor:
        """One training step on the ready views, as :func:`sslkit.engine.trainer.pretrain` takes it."""
        total = self.comps.derived["total_steps"]
        progress = (self.step_index % total) / total
        set_lr(self.optimizer, warmup_cosine(self.step_index % total, total, self.comps.derived["warmup_steps"],
                                             self.cfg.min_lr_ratio))
        out = self.model(self.views, progress)
        out.loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.model.after_step(progress)
        self.step_index += 1
        return out.loss.detach()


def prepare(cfg: PretrainConfig, seed: int = 0) -> Trainee:
    """Build ``cfg``'s components, optimizer and one batch of views, the trainer's way."""
    torch.manual_seed(seed)
    comps = build(cfg)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = comps.model.to(memory_format=memory_format)
    optimizer = build_optimizer(model.param_groups(), cfg.optimizer, comps.derived["lr"], cfg.weight_decay or 0.0,
                                cfg.momentum)
    if cfg.compile:  # as the trainer: the backbone's forward only
        model.backbone.forward = torch.compile(model.backbone.forward)
    model.train()
    loader = BatchLoader(comps.source, comps.derived["per_process_batch_size"], image_size=comps.image_size,
                         seed=seed)
    images, _ = next(iter(loader.epoch(0)))
    views = comps.views(images, torch.Generator().manual_seed(seed), memory_format)
    return Trainee(cfg, comps, model, optimizer, views, memory_format)


class Limit:
    """The bare backbone's forward+backward (or forward only, no grad) over a list of views."""

    def __init__(self, backbone: torch.nn.Module, views: list[torch.Tensor], memory_format: torch.memory_format):
        self.backbone = backbone.to(memory_format=memory_format).train()
        self.views = [v.contiguous(memory_format=memory_format) for v in views]

    def forward_backward(self) -> None:
        loss = sum(self.backbone(v).mean() for v in self.views)
        loss.backward()
        for p in self.backbone.parameters():
            p.grad = None

    @torch.no_grad()
    def forward(self) -> None:
        for v in self.views:
            self.backbone(v)


def has_ema(model: torch.nn.Module) -> bool:
    return any(isinstance(m, EMA) for m in model.modules())


def fresh_backbone(cfg: PretrainConfig, trainee: Trainee) -> torch.nn.Module:
    """A new, uncompiled backbone of the run's architecture (the limit never shares the method's)."""
    from sslkit.engine.build import build_backbone

    return build_backbone(cfg.backbone, trainee.comps.derived["channels"], trainee.comps.image_size,
                          cfg.backbone_options)


def step_cases(trainees: dict[str, Trainee], compile_limit: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Every timed case of the main table: each method's step, each view signature's limits."""
    cases: dict[str, Any] = {}
    limit_of: dict[str, str] = {}
    for name, trainee in trainees.items():
        cases[f"step {name}"] = trainee.step
        sig = trainee.signature()
        limit_of[name] = sig
        cfg = trainee.cfg
        if has_ema(trainee.model) and f"forward {sig}" not in cases:  # the EMA target's forward, no grad
            cases[f"forward {sig}"] = Limit(fresh_backbone(cfg, trainee), trainee.view_list,
                                            trainee.memory_format).forward
        if f"limit {sig}" in cases:
            continue
        limit = Limit(fresh_backbone(cfg, trainee), trainee.view_list, trainee.memory_format)
        cases[f"limit {sig}"] = limit.forward_backward
        if trainee.memory_format == torch.channels_last:
            plain = Limit(fresh_backbone(cfg, trainee), trainee.view_list, torch.contiguous_format)
            cases[f"limit contiguous {sig}"] = plain.forward_backward
        if compile_limit:
            compiled = Limit(fresh_backbone(cfg, trainee), trainee.view_list, trainee.memory_format)
            compiled.backbone.forward = torch.compile(compiled.backbone.forward)
            cases[f"limit compiled {sig}"] = compiled.forward_backward
    return cases, limit_of


def optimizer_cases(trainee: Trainee) -> dict[str, Any]:
    """``optimizer.step()`` alone over the method's parameter groups, per SGD implementation."""
    cfg, params = trainee.cfg, [p for p in trainee.model.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    cases = {}
    for label, flags in (("for-loop", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True})):
        groups = [{**g, "params": list(g["params"])} for g in trainee.model.param_groups()]
        opt = build_optimizer(groups, cfg.optimizer, 1e-6, cfg.weight_decay or 0.0, cfg.momentum)
        for key, value in flags.items():
            for group in opt.param_groups:
                group[key] = value
        cases[f"optimizer {cfg.optimizer} {label}"] = opt.step
    return cases


def ema_cases(trainee: Trainee) -> dict[str, Any]:
    """The EMA target update per tensor (as :class:`~sslkit.models.ema.EMA`) and with one foreach call."""
    model = trainee.model
    ema = next(m for m in model.modules() if isinstance(m, EMA))
    online = [model.backbone, model.projector]
    targets = [p for m in ema.copies for p in m.parameters()]
    sources = [p.detach() for m in online for p in m.parameters()]

    @torch.no_grad()
    def foreach() -> None:
        torch._foreach_lerp_(targets, sources, 0.01)

    return {"ema update per-tensor": lambda: ema.update(online, 0.99), "ema update foreach": foreach}


def timed(times: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {name: {"median_s": median(ts), "iqr_over_median": spread(ts), "times_s": ts} for name, ts in times.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 base width (torchvision: 64)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (medians over these)")
    parser.add_argument("--preset", default="quick", help="method preset giving heads, optimizer, augmentation")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time (steadier on a shared machine; use with --threads 1)")
    parser.add_argument("--compile", action="store_true", help="add torch.compile'd limit and steps")
    parser.add_argument("--no-micro", action="store_true", help="skip the optimizer and EMA micro-benchmarks")
    parser.add_argument("--quick", action="store_true", help="batch 64, 3 rounds (about a minute)")
    parser.add_argument("--out", help="JSON results (default runs/bench/step_vs_limit.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.repeats = min(args.batch, 64), min(args.repeats, 3)
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_allocator()  # as the trainer
    info = machine()
    print(describe(info))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = write_random_cifar10(tmp, n_train=max(args.batch, 64))
        configs = {m: bench_config(m, data_dir, width=args.width, batch=args.batch, preset=args.preset, out=tmp)
                   for m in methods}
        if args.compile:
            configs.update({f"{m} compiled": bench_config(m, data_dir, width=args.width, batch=args.batch,
                                                          preset=args.preset, compile=True, out=tmp)
                            for m in methods})
        trainees = {name: prepare(cfg) for name, cfg in configs.items()}
    cases, limit_of = step_cases(trainees, args.compile)
    results = timed(interleaved_times(cases, args.repeats, clock=args.clock))
    micro: dict[str, Any] = {}
    if not args.no_micro:
        first = trainees[methods[0]]
        micro_cases = optimizer_cases(first)
        ema_owner = next((t for t in trainees.values() if has_ema(t.model)), None)
        if ema_owner is not None:
            micro_cases.update(ema_cases(ema_owner))
        micro = timed(interleaved_times(micro_cases, max(10, 5 * args.repeats), clock=args.clock))

    rows, table = [], []
    for name, trainee in trainees.items():
        sig = limit_of[name]
        step_s = results[f"step {name}"]["median_s"]
        limit_key = f"limit compiled {sig}" if name.endswith("compiled") else f"limit {sig}"
        limit_s = results[limit_key]["median_s"]
        row = {"method": name, "views": sig, "step_s": step_s, "limit_s": limit_s, "ratio": step_s / limit_s,
               "images_per_s": args.batch / step_s, "step_iqr": results[f"step {name}"]["iqr_over_median"]}
        if f"forward {sig}" in results and has_ema(trainee.model):
            with_target = limit_s + results[f"forward {sig}"]["median_s"]
            row["limit_with_ema_forward_s"] = with_target
            row["ratio_with_ema_forward"] = step_s / with_target
        rows.append(row)
        extra = f" ({row['ratio_with_ema_forward']:.2f} vs limit + EMA fwd)" if "ratio_with_ema_forward" in row else ""
        table.append([name, sig, f"{limit_s * 1e3:,.0f}", f"{step_s * 1e3:,.0f}", f"{row['ratio']:.3f}{extra}",
                      f"{row['images_per_s']:,.0f}", f"{row['step_iqr']:.0%}"])
    print_table(f"step vs limit: resnet18 width {args.width}, batch {args.batch}, preset {args.preset}, "
                f"{args.clock} clock, median of {args.repeats} interleaved rounds (target ratio <= {STEP_TARGET})",
                ["method", "views", "limit ms", "step ms", "step / limit", "images/s", "IQR"], table)
    variants = []
    for sig in sorted(set(limit_of.values())):
        base = results[f"limit {sig}"]["median_s"]
        for label in ("contiguous", "compiled"):
            key = f"limit {label} {sig}"
            if key in results:
                variants.append([f"limit {label}", sig, f"{results[key]['median_s'] * 1e3:,.0f}",
                                 f"{base * 1e3:,.0f}", f"{results[key]['median_s'] / base:.2f}"])
    if variants:
        print_table("channels_last (the trainer's default) and torch.compile on the limit",
                    ["variant", "views", "variant ms", "default ms", "variant / default"], variants)
    if micro:
        print_table("micro-benchmarks (median)", ["case", "ms"],
                    [[name, f"{value['median_s'] * 1e3:.3f}"] for name, value in micro.items()])
    payload = {"benchmark": "step_vs_limit", "command": "python benchmarks/step_vs_limit.py " + " ".join(argv or
               sys.argv[1:]), "machine": info, "settings": vars(args), "rows": rows, "cases": results,
               "micro": micro}
    path = write_results(args.out, "step_vs_limit", payload)
    print(f"results: {path}")
    return payload


if __name__ == "__main__":
    main()
