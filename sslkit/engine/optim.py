"""Optimizers built from a method's parameter groups."""

from __future__ import annotations

from typing import Any

import torch

from sslkit.errors import SSLKitError


def build_optimizer(groups: list[dict[str, Any]], name: str, lr: float, weight_decay: float,
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """SGD (momentum), Adam or AdamW over ``groups``; each group records its ``base_lr``.

    Groups may override ``weight_decay`` and set ``fixed_lr`` (kept at the base lr by the engine).
    """
    prepared = []
    for group in groups:
        group = {"weight_decay": weight_decay, "fixed_lr": False, **group}
        group.setdefault("base_lr", lr * group.pop("lr_scale", 1.0))
        group["lr"] = group["base_lr"]
        prepared.append(group)
    if name == "sgd":
        return torch.optim.SGD(prepared, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(prepared, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(prepared, lr=lr, weight_decay=weight_decay)
    raise SSLKitError(f"unknown optimizer {name!r}; valid: sgd, adam, adamw")


def set_lr(optimizer: torch.optim.Optimizer, multiplier: float) -> float:
    """Scale every scheduled group's base lr by ``multiplier``; returns the first group's lr."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] if group.get("fixed_lr") else group["base_lr"] * multiplier
    return optimizer.param_groups[0]["lr"]
