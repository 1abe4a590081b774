"""The CPU recipe every method's ``quick`` preset starts from, so all methods share one budget.

Measured for SimSiam on Fashion-MNIST (docs/recipes.md): a 0.39M-parameter CNN that downsamples in
its first convolution, batch 128, 20 epochs with a half-epoch warm-up (about 7 minutes on 2 CPU
cores at 28 px), strength-1 colour jitter with blur, and the kNN monitor every 5 epochs. A method
overrides what is its own (learning rate, weight decay, constructor options under ``"method"``).
"""

from __future__ import annotations

import copy
from typing import Any

QUICK: dict[str, Any] = {
    "backbone": "smallcnn", "backbone_options": {"width": 32, "first_stride": 2}, "epochs": 20,
    "batch_size": 128, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 0.5, "knn_every": 5,
    "aug": {"standard": "simclr:scale_min=0.08,jitter=0.8,blur_p=0.5"},
}


def quick(**overrides: Any) -> dict[str, Any]:
    """``QUICK`` with a method's own values on top (e.g. ``quick(lr=0.5, method={...})``)."""
    return {**copy.deepcopy(QUICK), **overrides}
