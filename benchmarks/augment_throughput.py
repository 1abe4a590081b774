"""Throughput of the batched augmentation policies (views/s) and a per-op breakdown.

Usage: ``python benchmarks/augment_throughput.py [--threads 1] [--batch 512] [--repeats 15] [--best]
[--cpu-clock]``; ``--table [--quick] [--out FILE]`` instead prints one line per registered policy
(views/s on one core and with every core, the training device here) and writes them as JSON
(default ``runs/bench/augment_throughput.json``).

Every figure is a median (``--best``: minimum) over ``--repeats`` runs in this one process, so
ratios between lines are side by side. The reference line is torchvision's per-sample PIL
pipeline (SimCLR/SimSiam CIFAR T_std + ToTensor) on the same kind of images.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import describe, interleaved_times, machine, print_table, spread, write_results  # noqa: E402

from sslkit import _registry  # noqa: E402
from sslkit.augment import policies  # noqa: E402
from sslkit.augment.allocator import tune_allocator  # noqa: E402
from sslkit.augment.blur import gaussian_blur, gaussian_kernels  # noqa: E402
from sslkit.augment.geometric import RandomResizedCrop  # noqa: E402

BEST = False
CPU_CLOCK = False


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call.

    With ``--best``, the minimum instead (steadier when other processes share the cores).
    """
    fn()
    clock = time.thread_time if CPU_CLOCK else time.perf_counter
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return (min(times) if BEST else statistics.median(times)) * 1e3


def policy_lines(batch: int, channels: int, side: int, repeats: int, breakdown: bool = True) -> None:
    """Print views/s for every policy and (optionally) the per-op breakdown on one input shape."""
    x8 = torch.randint(0, 256, (batch, channels, side, side), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    for name in ("simclr", "weak"):
        policy = getattr(policies, name)(side, channels)
        ms = median_ms(lambda policy=policy: policy(x8, g), repeats)
        print(f"{name:8s} {side}x{side}x{channels} B={batch}: {ms:7.2f} ms/batch "
              f"{batch / ms * 1e3:10,.0f} views/s")
        if not breakdown:
            continue
        x = x8.float().div_(255)
        print(f"    {'uint8->float':34s} {median_ms(lambda: x8.float().div_(255), repeats):7.2f} ms")
        for op in policy.ops:
            params = op.sample(x, g)
            s_ms = median_ms(lambda op=op, x=x: op.sample(x, g), repeats)
            a_ms = median_ms(lambda op=op, x=x, params=params: op.apply(x, params), repeats)
            print(f"    {type(op).__name__:34s} {s_ms + a_ms:7.2f} ms (sample {s_ms:.2f}, apply {a_ms:.2f})")
            x = op.apply(x, params)


def pil_reference(batch: int, side: int, repeats: int) -> None:
    """Per-sample torchvision PIL pipeline (the usual DataLoader path) on the same kind of images."""
    from PIL import Image
    from torchvision import transforms as T

    pipeline = T.Compose([
        T.RandomResizedCrop(side, scale=(0.2, 1.0)), T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), T.RandomGrayscale(0.2), T.ToTensor()])
    arrays = torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8).numpy()
    imgs = [Image.fromarray(a) for a in arrays]
    ms = median_ms(lambda: [pipeline(im) for im in imgs], max(3, repeats // 5))
    print(f"torchvision PIL per-sample simclr {side}x{side}x3 B={batch}: {ms:7.2f} ms/batch "
          f"{batch / ms * 1e3:10,.0f} views/s ({ms / batch:.3f} ms/view)")


def alternatives(batch: int, repeats: int) -> None:
    """Resampling and blur formulations that were measured against the ones kept."""
    x = torch.rand(batch, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    rrc = RandomResizedCrop(32, (0.2, 1.0))
    p = rrc.sample(x, g)
    top, left, h, w = (p[k].float() for k in ("top", "left", "height", "width"))
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w / 32, (2 * left + w) / 32 - 1
    theta[:, 1, 1], theta[:, 1, 2] = h / 32, (2 * top + h) / 32 - 1

    def grid() -> torch.Tensor:
        grid = F.affine_grid(theta, [batch, 3, 32, 32], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    from torchvision.ops import roi_align
    boxes = torch.stack([torch.arange(batch, dtype=torch.float32), left, top, left + w, top + h], 1)
    ref = rrc.apply(x, p)
    print("alternatives (32x32x3):")
    print(f"    RRC separable bmm (kept)           {median_ms(lambda: rrc.apply(x, p), repeats):7.2f} ms")
    print(f"    RRC affine_grid+grid_sample        {median_ms(grid, repeats):7.2f} ms "
          f"(max |diff| {float((grid() - ref).abs().max()):.3f}: samples outside the box at its edges)")
    roi = lambda: roi_align(x, boxes, 32, 1.0, sampling_ratio=1, aligned=True)  # noqa: E731
    print(f"    RRC roi_align                      {median_ms(roi, repeats):7.2f} ms "
          f"(max |diff| {float((roi() - ref).abs().max()):.3f})")
    sigma = torch.rand(batch) * 1.9 + 0.1

    def conv_blur() -> torch.Tensor:
        k = gaussian_kernels(sigma, 3).repeat_interleave(3, dim=0)
        y = F.pad(x.reshape(1, batch * 3, 32, 32), (1, 1, 1, 1), mode="reflect")
        y = F.conv2d(y, k.view(-1, 1, 1, 3), groups=batch * 3)
        return F.conv2d(y, k.view(-1, 1, 3, 1), groups=batch * 3)

    kept = median_ms(lambda: gaussian_blur(x, sigma, 3), repeats)
    print(f"    blur shifted multiply-add (kept)   {kept:7.2f} ms")
    print(f"    blur grouped conv2d                {median_ms(conv_blur, repeats):7.2f} ms")


def policy_table(batch: int, repeats: int, thread_counts: list[int], clock: str, side: int = 32,
                 channels: int = 3) -> list[dict[str, Any]]:
    """views/s of every registered policy (defaults) on uint8 batches, per thread count, interleaved.

    The figures include the uint8 -> float conversion, as the trainer's view maker does it once per
    batch and every view pays for it.
    """
    x8 = torch.randint(0, 256, (batch, channels, side, side), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    built = {name: _registry.load("augmentations", name)(size=side, channels=channels)
             for name in _registry.names("augmentations")}
    rows = {name: {"policy": name, "batch": batch, "size": f"{side}x{side}x{channels}"} for name in built}
    before = torch.get_num_threads()
    for threads in thread_counts:
        torch.set_num_threads(threads)
        cases = {name: (lambda p=p: p(x8.float().div_(255), g)) for name, p in built.items()}
        for name, times in interleaved_times(cases, repeats, clock=clock).items():
            seconds = statistics.median(times)
            rows[name][f"views_per_s_{threads}_threads"] = batch / seconds
            rows[name][f"ms_per_batch_{threads}_threads"] = seconds * 1e3
            rows[name][f"iqr_{threads}_threads"] = spread(times)
    torch.set_num_threads(before)
    return list(rows.values())


def table_main(args: argparse.Namespace) -> None:
    """``--table``: one line per policy, one core and every core, JSON to ``--out``."""
    tune_allocator()  # as the trainer
    info = machine()
    print(describe(info))
    counts = sorted({1, torch.get_num_threads()})
    rows = policy_table(args.batch, args.repeats, counts, "cpu" if args.cpu_clock else "wall")
    print_table(f"augmentation policies, 32x32x3, batch {args.batch}, median of {args.repeats} interleaved rounds "
                f"({'CPU' if args.cpu_clock else 'wall'} clock); 'all cores' is the training device here",
                ["policy", *[f"views/s {c} thread(s)" for c in counts], *[f"ms/batch {c}" for c in counts]],
                [[r["policy"], *[f"{r[f'views_per_s_{c}_threads']:,.0f}" for c in counts],
                  *[f"{r[f'ms_per_batch_{c}_threads']:.1f}" for c in counts]] for r in rows])
    path = write_results(args.out, "augment_throughput", {
        "benchmark": "augment_throughput --table", "command": "python benchmarks/augment_throughput.py "
        + " ".join(args.argv), "machine": info, "settings": {k: v for k, v in vars(args).items() if k != "argv"},
        "rows": rows})
    print(f"results: {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--best", action="store_true", help="report the minimum, not the median")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="time with the thread's CPU clock (ignores time lost to other processes)")
    parser.add_argument("--no-reference", action="store_true", help="skip the PIL reference")
    parser.add_argument("--table", action="store_true",
                        help="one line per registered policy: views/s on one core and on all cores, as JSON")
    parser.add_argument("--quick", action="store_true", help="with --table: batch 256, 5 rounds")
    parser.add_argument("--out", help="with --table: JSON results (default runs/bench/augment_throughput.json)")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.table:
        if args.quick:
            args.batch, args.repeats = min(args.batch, 256), min(args.repeats, 5)
        return table_main(args)
    global BEST, CPU_CLOCK
    BEST, CPU_CLOCK = args.best, args.cpu_clock
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {torch.backends.cpu.get_cpu_capability()}, "
          f"{'minimum' if BEST else 'median'} of {args.repeats}, {'CPU' if CPU_CLOCK else 'wall'} clock")
    policy_lines(args.batch, 1, 28, args.repeats)
    policy_lines(args.batch, 3, 32, args.repeats)
    alternatives(args.batch, args.repeats)
    print(f"after sslkit.augment.allocator.tune_allocator() (applied: {tune_allocator()}):")
    policy_lines(args.batch, 1, 28, args.repeats, breakdown=False)
    policy_lines(args.batch, 3, 32, args.repeats, breakdown=False)
    if not args.no_reference:
        pil_reference(args.batch, 32, args.repeats)


if __name__ == "__main__":
    main()
