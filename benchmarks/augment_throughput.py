"""Throughput of the batched augmentation policies (views/s) and a per-op breakdown.

Usage: ``python benchmarks/augment_throughput.py [--threads 1] [--batch 512] [--repeats 15] [--best]
[--cpu-clock]``.

Every figure is a median (``--best``: minimum) over ``--repeats`` runs in this one process, so
ratios between lines are side by side. The reference line is torchvision's per-sample PIL
pipeline (SimCLR/SimSiam CIFAR T_std + ToTensor) on the same kind of images.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sslkit.augment import policies
from sslkit.augment.allocator import tune_allocator
from sslkit.augment.blur import gaussian_blur, gaussian_kernels
from sslkit.augment.geometric import RandomResizedCrop

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--best", action="store_true", help="report the minimum, not the median")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="time with the thread's CPU clock (ignores time lost to other processes)")
    parser.add_argument("--no-reference", action="store_true", help="skip the PIL reference")
    args = parser.parse_args()
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
