"""Tiny in-memory splits whose class is written into the pixels, and contexts around them."""

from __future__ import annotations

import torch
from torch import nn

from sslkit.data.base import DatasetInfo, Source
from sslkit.evaluate.context import EvalBackbone, EvalContext
from sslkit.models import smallcnn

SIZE, CHANNELS, CLASSES = 8, 3, 6  # class = (bright channel, bright half): 3 channels x top/bottom


def separable_source(per_class: int, seed: int, split: str = "train") -> Source:
    """``per_class`` images per class: noise in [0, 40], plus 200 on the class's channel and half.

    The halves are top and bottom, so horizontal flips and mild crops keep the class readable.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(CLASSES).repeat(per_class)
    images = torch.randint(0, 41, (len(labels), CHANNELS, SIZE, SIZE), generator=g)
    for i, label in enumerate(labels.tolist()):
        channel, half = divmod(label, 2)
        rows = slice(0, SIZE // 2) if half == 0 else slice(SIZE // 2, SIZE)
        images[i, channel, rows] += 200
    info = DatasetInfo(name="separable", split=split, classes=tuple(str(c) for c in range(CLASSES)),
                       channels=CHANNELS, size=(SIZE, SIZE), mean=(0.3,) * CHANNELS, std=(0.3,) * CHANNELS)
    return Source(info=info, labels=labels, images=images.to(torch.uint8))


class Flatten(nn.Module):
    """The identity backbone: pooled features = the normalised pixels, flattened."""

    num_features = CHANNELS * SIZE * SIZE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def tiny_smallcnn(seed: int = 0) -> nn.Module:
    """A width-8 smallcnn for ``SIZE``-px 3-channel images, built without disturbing the global RNG."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return smallcnn(CHANNELS, SIZE, width=8)


def context(module: nn.Module, train_per_class: int = 20, test_per_class: int = 10) -> EvalContext:
    """An :class:`EvalContext` on CPU over fresh separable train/test splits."""
    backbone = EvalBackbone(module, SIZE, CHANNELS, (0.3,) * CHANNELS, (0.3,) * CHANNELS, "test")
    return EvalContext(backbone, separable_source(train_per_class, 0), separable_source(test_per_class, 1, "test"),
                       device=torch.device("cpu"), batch_size=64)
