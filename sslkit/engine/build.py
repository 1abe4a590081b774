"""Build a run's components from its config: data, backbone, method, views, derived values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from sslkit import _registry
from sslkit.config import PretrainConfig
from sslkit.data.base import Source
from sslkit.data.open import open_source
from sslkit.engine.views import ViewMaker
from sslkit.errors import SSLKitError
from sslkit.methods.base import Method


@dataclass
class Components:
    """Everything a run needs besides the optimizer and the process group."""

    source: Source
    eval_source: Source | None
    model: Method
    views: ViewMaker
    image_size: int
    derived: dict[str, Any]


def build_backbone(name: str, in_channels: int, image_size: int, options: dict[str, Any]) -> torch.nn.Module:
    factory = _registry.load("backbones", name)
    try:
        return factory(in_channels=in_channels, image_size=image_size, **options)
    except TypeError as error:
        raise SSLKitError(f"backbone {name!r}: {error}") from error


def build_method(method_cls: type, backbone: torch.nn.Module, options: dict[str, Any]) -> Method:
    try:
        return method_cls(backbone, **options)
    except (TypeError, ValueError, RuntimeError) as error:  # ValueError: a method's check of its options
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SSLKitError(f"method {method_cls.__name__} cannot be built with options {options} ({first}); "
                          f"fix the --set values") from error


def build(cfg: PretrainConfig, num_processes: int = 1) -> Components:
    """Load data, build the model and the view maker, and compute the derived values once."""
    method_cls = _registry.load("methods", cfg.method)
    source = open_source(cfg.dataset, cfg.split, cfg.data_dir, cfg.download)
    info = source.info
    image_size = cfg.image_size or (info.size[0] if info.size else None)
    if image_size is None:
        raise SSLKitError(f"{cfg.dataset} has images of different sizes; pass --image-size (e.g. 224)")
    eval_source, knn_off = None, "--knn-every 0"
    if cfg.knn_every > 0:
        try:
            eval_source = open_source(cfg.dataset, cfg.eval_split, cfg.data_dir, cfg.download)
        except SSLKitError as error:  # a missing or unreadable test split: train without the monitor, say why
            knn_off = f"{cfg.eval_split} split unavailable: {error}"
        if (source.labels < 0).all():
            eval_source, knn_off = None, "the training split has no labels"
    batch_size, epochs = cfg.batch_size, cfg.epochs
    if batch_size is None or (epochs is None and cfg.steps is None) or cfg.lr is None or cfg.optimizer is None:
        raise SSLKitError(f"method {cfg.method!r} has no preset {cfg.preset!r} values for batch size, epochs, lr "
                          f"and optimizer; pass --batch-size, --epochs, --lr and --set optimizer=sgd")
    if batch_size % num_processes:
        raise SSLKitError(f"batch size {batch_size} is not divisible by the {num_processes} processes")
    if batch_size > len(source):
        raise SSLKitError(f"batch size {batch_size} is larger than the dataset ({len(source)} images); "
                          f"lower --batch-size")
    steps_per_epoch = len(source) // batch_size
    total_steps = cfg.steps or epochs * steps_per_epoch
    backbone_name = cfg.backbone or "resnet18"
    backbone = build_backbone(backbone_name, info.channels, image_size, cfg.backbone_options)
    model = build_method(method_cls, backbone, cfg.method_options)
    views = ViewMaker(method_cls.views, image_size, info.channels, info.mean, info.std, cfg.aug)
    scale = batch_size / 256 if cfg.lr_scaling == "linear" else 1.0
    derived = {
        "backbone": backbone_name,
        "backbone_config": getattr(backbone, "sslkit_config", {"backbone": backbone_name}),
        "backbone_parameters": sum(p.numel() for p in backbone.parameters()),
        "method_parameters": sum(p.numel() for p in model.parameters()),
        "image_size": image_size,
        "channels": info.channels,
        "mean": list(info.mean),
        "std": list(info.std),
        "num_classes": info.num_classes,
        "dataset_root": info.root,
        "train_images": len(source),
        "eval_images": len(eval_source) if eval_source is not None else 0,
        "global_batch_size": batch_size,
        "per_process_batch_size": batch_size // num_processes,
        "num_processes": num_processes,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
        "epochs": total_steps / steps_per_epoch,
        "warmup_steps": math.ceil((cfg.warmup_epochs or 0) * steps_per_epoch),
        "lr": cfg.lr * scale,
        "views_per_image": views.views_per_image,
        "views": views.policy_specs,
        "knn_monitor": eval_source is not None,
        **({} if eval_source is not None else {"knn_monitor_off": knn_off}),
    }
    return Components(source, eval_source, model, views, image_size, derived)
