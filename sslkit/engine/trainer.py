"""The training loop: one device-agnostic Accelerate loop for every method (DESIGN.md §4).

Reads top to bottom: build the components, create or resume the run directory, then for every
step draw a batch, build the views, call the method, step the optimizer, call ``after_step``; log,
checkpoint and run the kNN monitor at their intervals. Randomness that affects training is a pure
function of ``(seed, epoch)`` (data order) and ``(seed, step)`` (augmentation), so a resumed run
continues exactly where the interrupted one stopped, and N processes (``torchrun``/``accelerate
launch``) see exactly the batches and views one process with the same global batch would: the data
order is sharded by :class:`BatchLoader`, the augmentation parameters by
:func:`sslkit.augment._random.batch_shard`; losses gather across processes (:mod:`sslkit.distributed`)
and ``--sync-bn`` normalises over the global batch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from rich.console import Console

from sslkit import distributed
from sslkit.augment import tune_allocator
from sslkit.augment._random import batch_shard
from sslkit.config import PretrainConfig
from sslkit.data.loader import BatchLoader
from sslkit.engine import checkpoint, rundir
from sslkit.engine.build import Components, build
from sslkit.engine.optim import build_optimizer, set_lr
from sslkit.engine.progress import TrainingProgress
from sslkit.engine.schedule import warmup_cosine
from sslkit.errors import SSLKitError
from sslkit.evaluate.knn import knn_accuracy, split_features
from sslkit.models.global_batchnorm import convert_to_global_batchnorm

COLLAPSE_STD = 0.1  # embedding std (1 = spread uniformly on the sphere, 0 = one point) that triggers a warning


def make_accelerator(precision: str) -> Accelerator:
    cuda = torch.cuda.is_available()
    mixed = {"auto": "bf16" if cuda else "no", "fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]
    return Accelerator(cpu=not cuda, mixed_precision=mixed)


def knn_monitor(method: torch.nn.Module, comps: Components, cfg: PretrainConfig, device: torch.device,
                batch_size: int) -> float:
    """Weighted kNN top-1 (k, t from the config) of the backbone features on the eval split.

    Each process extracts its shard of both splits; the features are gathered (in dataset order), so
    every process computes the same number, which equals that of one process.
    """
    def features(source):
        loader = BatchLoader(source, batch_size, image_size=comps.image_size, shuffle=False, drop_last=False,
                             rank=distributed.rank(), world_size=distributed.world_size(),
                             num_workers=0 if source.in_memory else cfg.num_workers)
        feats, labels = split_features(method.features, loader, comps.views.normalize, device)
        return F.normalize(feats, dim=1), labels

    was_training = method.training
    method.eval()
    (bank, bank_labels), (queries, labels) = features(comps.source), features(comps.eval_source)
    method.train(was_training)
    return knn_accuracy(bank, bank_labels, queries, labels, comps.source.info.num_classes, cfg.knn_k, cfg.knn_t)


def _finite_everywhere(loss: torch.Tensor) -> bool:
    """Whether the loss is finite on every process (so all of them skip, or none)."""
    return float(distributed.mean_over_processes(torch.isfinite(loss.detach()).float())) == 1.0


def _check_state_after_skip(method: torch.nn.Module, step: int, run: Path) -> None:
    """A skipped batch still ran the forward pass: stop if it wrote non-finite values into buffers
    (BatchNorm statistics, queues), which skipping cannot undo."""
    for name, buffer in method.named_buffers():
        if buffer.is_floating_point() and not bool(torch.isfinite(buffer).all()):
            raise SSLKitError(f"the NaN/Inf batch at step {step + 1} also wrote non-finite values into {name}; "
                              f"skipping cannot undo that. The last good checkpoint is kept in "
                              f"{checkpoint.checkpoint_dir(run)}: lower the lr or set grad_clip (e.g. 1.0) in "
                              f"{run / 'config.json'} and resume with --resume {run}")


def _resume_state(run: Path, main: bool) -> dict[str, Any] | None:
    """The newest complete checkpoint of ``run``; damaged newer ones are reported (main process) and skipped.

    A run killed before its first checkpoint has none: it starts again from step 0 in the same directory.
    """
    console = Console(stderr=True, highlight=False)

    def report(message: str) -> None:
        if main:
            console.print(f"[yellow]warning:[/] {message}", soft_wrap=True)

    state = checkpoint.load_latest(run, on_damaged=report)
    if state is None:
        report(f"no checkpoint in {checkpoint.checkpoint_dir(run)} (the run stopped before its first one): "
               f"training starts again from step 0 in {run}")
    return state


def _nonfinite_state(method: torch.nn.Module) -> bool:
    """Whether any floating-point parameter or buffer holds NaN/Inf (a checkpoint of it would not be good)."""
    tensors = [t.detach() for t in (*method.parameters(), *method.buffers()) if t.is_floating_point()]
    return not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def _start_run(cfg: PretrainConfig, resume: Path | None, comps: Components, accelerator: Accelerator) -> Path:
    """Create (main process) or reuse the run directory; every process gets the same path."""
    path = [str(resume) if resume is not None else None]
    if resume is None and accelerator.is_main_process:
        run = rundir.new_run_dir(cfg.out, cfg.method, cfg.dataset, cfg.name,
                                 rundir.needed_bytes(comps.model, cfg.keep_checkpoints))
        rundir.write_config(run, cfg.to_dict(), comps.derived)
        path = [str(run)]
    if accelerator.num_processes > 1:
        broadcast_object_list(path)
    return Path(path[0])


def pretrain(cfg: PretrainConfig, resume: Path | None = None, quiet: bool = False) -> dict[str, Any]:
    """Pre-train ``cfg.method`` on ``cfg.dataset``; returns a summary including the run directory."""
    tune_allocator()  # keep augmentation buffers mapped: ~2x faster batched ops on CPU
    accelerator = make_accelerator(cfg.precision)
    main = accelerator.is_main_process
    torch.manual_seed(cfg.seed)
    comps = build(cfg, accelerator.num_processes)
    derived = comps.derived
    run = _start_run(cfg, resume, comps, accelerator)
    state = _resume_state(run, main) if resume is not None else None
    method = comps.model
    if cfg.sync_bn:
        convert_to_global_batchnorm(method)  # same parameters, statistics over every process
    if state is not None:
        checkpoint.load_model_state(method, state, run)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    method.to(accelerator.device, memory_format=memory_format)
    optimizer = build_optimizer(method.param_groups(), cfg.optimizer, derived["lr"], cfg.weight_decay or 0.0,
                                cfg.momentum)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    if cfg.compile:  # compile the backbone's forward only, so state_dict keys stay unprefixed
        method.backbone.forward = torch.compile(method.backbone.forward)
    model, optimizer = accelerator.prepare(method, optimizer)

    total, per_epoch = derived["total_steps"], derived["steps_per_epoch"]
    loader = BatchLoader(comps.source, derived["per_process_batch_size"], image_size=comps.image_size,
                         seed=cfg.seed, rank=accelerator.process_index, world_size=accelerator.num_processes,
                         num_workers=0 if comps.source.in_memory else cfg.num_workers)
    metrics = rundir.MetricsLog(run, enabled=main)
    step = state["step"] if state is not None else 0
    metrics.truncate_after(step)
    generator = torch.Generator()
    # The log window and skip count resume too, so the rows after a resume equal an uninterrupted run's.
    window = state.get("log_window", {}) if state is not None else {}
    loss_sum = torch.tensor(float(window.get("loss_sum", 0.0)), device=accelerator.device)
    window_steps = int(window.get("steps", 0))
    finite = torch.ones((), dtype=torch.bool, device=accelerator.device)
    first_nonfinite = torch.zeros((), dtype=torch.long, device=accelerator.device)  # step; 0: none yet
    knn = None
    warned_collapse = False
    progress = TrainingProgress(total, enabled=main and not quiet, start=step)
    progress.describe(cfg, derived, run, resumed_at=step if state is not None else None)

    skipped = int(window.get("skipped_batches", 0))

    def save_checkpoint() -> None:
        # One decision for every process; a finite loss can still come with an update that overflowed.
        good = finite & ~torch.tensor(_nonfinite_state(method), device=finite.device)
        if float(distributed.mean_over_processes(good.float())) < 1:
            last = checkpoint.list_checkpoints(run)
            where = f"{last[-1]}" if last else f"none was written yet, in {checkpoint.checkpoint_dir(run)}"
            found = int(first_nonfinite)
            what = (f"the loss became NaN or Inf at step {found}" if found
                    else f"the weights became NaN or Inf at step {step} (with a finite loss)")
            raise SSLKitError(f"{what} (of {total}); training stopped and the last good checkpoint is kept "
                              f"({where}). Lower the lr or set grad_clip (e.g. 1.0) "
                              f"in {run / 'config.json'} and resume with --resume {run}, or rerun with --on-nan skip")
        log_window = {"loss_sum": float(distributed.mean_over_processes(loss_sum)), "steps": window_steps,
                      "skipped_batches": skipped}
        if main:
            checkpoint.save(run, step, {"model": method.state_dict(), "optimizer": optimizer.state_dict(),
                                        "step": step, "config": cfg.to_dict(), "log_window": log_window},
                            keep=cfg.keep_checkpoints)
        accelerator.wait_for_everyone()

    window_start, timed_steps = time.perf_counter(), 0  # images/s over the steps run since window_start
    with progress:
        while step < total:
            epoch = step // per_epoch
            for images, _ in loader.epoch(epoch, start_batch=step - epoch * per_epoch):
                lr = set_lr(optimizer, warmup_cosine(step, total, derived["warmup_steps"], cfg.min_lr_ratio))
                generator.manual_seed((cfg.seed * 1_000_003 + step) * 1_009)  # alike on every process
                with batch_shard(accelerator.process_index * len(images), len(images) * accelerator.num_processes):
                    views = comps.views(images.to(accelerator.device, non_blocking=True), generator, memory_format)
                out = model(views, step / total)
                if cfg.on_nan == "skip" and not _finite_everywhere(out.loss):  # one host sync per step
                    skipped += 1
                    _check_state_after_skip(method, step, run)
                    progress.print(f"[yellow]warning:[/] NaN/Inf loss at step {step + 1}: batch skipped "
                                   f"({skipped} so far; --on-nan skip)")
                    step += 1
                    if step >= total:
                        break
                    continue
                accelerator.backward(out.loss)
                if cfg.grad_clip:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                method.after_step((step + 1) / total)
                step += 1
                window_steps += 1
                timed_steps += 1
                loss = out.loss.detach()
                loss_sum += loss
                first_nonfinite = torch.where(finite & ~torch.isfinite(loss), step, first_nonfinite)
                finite &= torch.isfinite(loss)
                if step % cfg.log_every == 0 or step % per_epoch == 0 or step == total:
                    elapsed = time.perf_counter() - window_start
                    mean_loss = distributed.mean_over_processes(loss_sum) / window_steps
                    record = {"step": step, "epoch": step / per_epoch, "loss": mean_loss.item(),
                              "lr": lr, "images_per_s": timed_steps * derived["global_batch_size"] / elapsed}
                    record.update({k: float(v) for k, v in out.logs.items()})
                    if skipped:
                        record["skipped_batches"] = skipped
                    if out.embeddings is not None:
                        z = F.normalize(out.embeddings.float(), dim=1)
                        record["embedding_std"] = z.std(dim=0).mean().item() * math.sqrt(z.shape[1])
                        if record["embedding_std"] < COLLAPSE_STD and not warned_collapse:
                            warned_collapse = True
                            progress.print(f"[yellow]warning:[/] embeddings are collapsing at step {step}: the std of "
                                           f"normalised embeddings is {record['embedding_std']:.3f} of a uniform "
                                           f"spread (< {COLLAPSE_STD}); check the lr and the augmentations")
                    if not math.isfinite(record["loss"]):
                        save_checkpoint()  # raises with the step and where the last good checkpoint is
                    metrics.write(**record)
                    progress.update(step, record)
                    loss_sum.zero_()
                    window_steps = 0
                    window_start, timed_steps = time.perf_counter(), 0
                if step % cfg.checkpoint_every == 0 and step % per_epoch:
                    save_checkpoint()
                if step >= total:
                    break
            epoch_done = step % per_epoch == 0 or step >= total
            if epoch_done:
                epoch_index = math.ceil(step / per_epoch)
                if comps.eval_source is not None and (epoch_index % cfg.knn_every == 0 or step >= total):
                    progress.status("kNN monitor")
                    knn = knn_monitor(method, comps, cfg, accelerator.device, derived["per_process_batch_size"])
                    metrics.write(step=step, epoch=epoch_index, knn_top1=knn)
                    progress.epoch_done(epoch_index, knn)
                save_checkpoint()
                window_start, timed_steps = time.perf_counter(), 0  # kNN and checkpoint time is not training
    summary = {"run": str(run), "steps": step, "knn_top1": knn, "config": dataclasses.asdict(cfg),
               "derived": derived, "skipped_batches": skipped}
    progress.finish(summary)
    accelerator.end_training()
    return summary
