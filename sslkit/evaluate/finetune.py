"""Semi-supervised fine-tuning on a labelled fraction of the train split (METHODS.md §2.3): the
``finetune`` protocol.

Recipe: LEWEL/BYOL-style full fine-tuning (LEWEL ``main_semi.py`` with ``srun_semi_1p.sh`` /
``srun_semi_10p.sh``). A **copy** of the backbone (the context's backbone is never modified) and a
linear head (weight ~ N(0, 0.01), bias 0) are trained together with SGD momentum 0.9, wd 1e-4,
batch 256, 50 epochs, lr x0.1 at epochs 30 and 40 (moved proportionally when ``epochs`` is
changed). Two parameter groups, by the **1%-vs-10% rule**: backbone lr / head lr = 1e-4 / 1.0 when
``fraction <= 0.01`` (the 1% recipe) and 0.01 / 0.1 otherwise (the 10% recipe). Training uses
``RRC(size) + flip`` with torchvision's default crop scale (0.08, 1), as LEWEL's
``RandomResizedCrop(224)``, and BatchNorm in train mode; the test split is scored once at the end,
in eval mode, with the plain transform. Reports the final-epoch ``top1`` and ``labelled``, the
number of labelled images used.

Deviations from the recipe:

* The labelled subset is drawn per class (:func:`stratified_subset`), since the ImageNet
  ``1percent.txt`` / ``10percent.txt`` lists exist for ImageNet only.
* The crop is resampled bilinearly by the batched :func:`sslkit.augment.policies.weak` policy.
* The batch is clipped to the subset's size (1% of a small dataset can be fewer than 256 images);
  the last incomplete batch of an epoch is dropped, which never drops every batch.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.augment.policies import weak
from sslkit.data.base import Source
from sslkit.engine.optim import set_lr
from sslkit.errors import SSLKitError
from sslkit.evaluate._training import (
    check_labelled,
    check_positive,
    correct,
    feature_dim,
    linear_head,
    scaled_milestones,
    step_factor,
)
from sslkit.evaluate.context import EvalContext

BASE_EPOCHS, MILESTONES = 50, (30, 40)  # METHODS.md §2.3
BATCH_SIZE, MOMENTUM, WEIGHT_DECAY = 256, 0.9, 1e-4
ONE_PERCENT_LRS, TEN_PERCENT_LRS = (1e-4, 1.0), (0.01, 0.1)  # (backbone lr, head lr), METHODS.md §2.3
CROP_SCALE_MIN = 0.08  # torchvision RandomResizedCrop default, as LEWEL's RRC(224)


def stratified_subset(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a seeded, class-balanced labelled subset.

    Each class ``c`` with ``n_c`` images keeps ``max(1, round(fraction * n_c))`` of them (rounded half
    up), drawn without replacement. Unlabelled entries (label < 0) are never chosen.

    Args:
        labels: ``(N,)`` integer labels.
        fraction: Share of each class to keep, in (0, 1].
        seed: Fixes the draw.

    Returns:
        Sorted int64 indices into ``labels``.

    Raises:
        SSLKitError: ``fraction`` outside (0, 1].
    """
    if not 0 < fraction <= 1:
        raise SSLKitError(f"the labelled fraction must be in (0, 1] (got {fraction}); e.g. 0.01 or 0.1")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in torch.unique(labels[labels >= 0]).tolist():
        members = torch.nonzero(labels == label).flatten()
        keep = max(1, int(fraction * len(members) + 0.5))
        chosen.append(members[torch.randperm(len(members), generator=generator)[:keep]])
    if not chosen:
        return torch.empty(0, dtype=torch.int64)
    return torch.cat(chosen).sort().values.to(torch.int64)


def learning_rates(fraction: float) -> tuple[float, float]:
    """``(backbone lr, head lr)`` of the 1%-vs-10% rule: the 1% recipe up to a fraction of 0.01."""
    return ONE_PERCENT_LRS if fraction <= 0.01 else TEN_PERCENT_LRS


class _Picked:
    """``i -> image`` of a lazy source restricted to ``indices`` (picklable for DataLoader workers)."""

    def __init__(self, source: Source, indices: torch.Tensor) -> None:
        self.source, self.indices = source, indices

    def __call__(self, i: int) -> torch.Tensor:
        return self.source.get(int(self.indices[i]))[0]


def subset_source(source: Source, indices: torch.Tensor) -> Source:
    """The images of ``source`` at ``indices`` (in memory or lazy, like the source)."""
    if source.images is not None:
        return Source(info=source.info, labels=source.labels[indices], images=source.images[indices])
    return Source(info=source.info, labels=source.labels[indices], loader=_Picked(source, indices))


def finetune(ctx: EvalContext, seed: int, *, fraction: float = 0.1, epochs: int | None = None,
             backbone_lr: float | None = None, head_lr: float | None = None,
             batch_size: int | None = None) -> dict[str, float]:
    """Fine-tune a copy of the backbone with a linear head on ``fraction`` of the labelled train split.

    Args:
        ctx: Backbone and splits (the backbone itself is left untouched).
        seed: Fixes the subset, the head's initialisation, the data order and the augmentation.
        fraction: Labelled share of each class, in (0, 1]; also picks the learning rates.
        epochs: Override the 50 epochs (the lr milestones move with it).
        backbone_lr: Override the backbone's learning rate.
        head_lr: Override the head's learning rate.
        batch_size: Override the batch of 256 (clipped to the subset's size either way).

    Returns:
        ``top1`` (final epoch, test split) and ``labelled`` (images in the labelled subset).

    Raises:
        SSLKitError: Bad fraction, a non-positive override or an unlabelled train split.
    """
    check_positive(epochs=epochs, backbone_lr=backbone_lr, head_lr=head_lr, batch_size=batch_size)
    check_labelled(ctx)
    indices = stratified_subset(ctx.train.labels, fraction, seed)
    labelled = subset_source(ctx.train, indices)
    epochs = int(epochs or BASE_EPOCHS)
    default_backbone_lr, default_head_lr = learning_rates(fraction)
    lrs = [float(backbone_lr or default_backbone_lr), float(head_lr or default_head_lr)]
    batch = min(int(batch_size or BATCH_SIZE), len(labelled))

    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(ctx.backbone.module).to(ctx.device).requires_grad_(True)
    head = linear_head(feature_dim(ctx), ctx.num_classes, generator, ctx.device)
    optimizer = torch.optim.SGD([{"params": model.parameters(), "lr": lrs[0], "base_lr": lrs[0]},
                                 {"params": head.parameters(), "lr": lrs[1], "base_lr": lrs[1]}],
                                momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    milestones = scaled_milestones(epochs, BASE_EPOCHS, MILESTONES)
    augment = weak(ctx.backbone.image_size, ctx.backbone.channels, scale_min=CROP_SCALE_MIN)
    loader = ctx.loader("train", shuffle=True, drop_last=True, seed=seed, batch_size=batch, source=labelled)
    model.train()
    for epoch in ctx.track(range(epochs), epochs, f"fine-tuning on {len(labelled)} labelled images"):
        set_lr(optimizer, step_factor(epoch, milestones))
        for images, targets in loader.epoch(epoch):
            x = ctx.normalize(augment(ctx.to_unit(images), generator))
            loss = F.cross_entropy(head(model(x)), targets.to(ctx.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return {"top1": _test_accuracy(ctx, nn.Sequential(model, head)), "labelled": float(len(labelled))}


@torch.no_grad()
def _test_accuracy(ctx: EvalContext, classifier: nn.Module) -> float:
    """Top-1 accuracy on the test split, eval mode, plain transform."""
    classifier.eval()
    hits = 0
    loader = ctx.loader("test")
    for images, labels in ctx.track(loader.epoch(0), len(loader), "fine-tuned model on the test split"):
        hits += correct(classifier(ctx.prepare(images)), labels.to(ctx.device))
    return hits / len(ctx.test)
