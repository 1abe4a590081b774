"""What every evaluation protocol works on: a frozen backbone, a train and a test split, a device.

:func:`open_backbone` opens a run directory (the method with its newest checkpoint) or an export
folder (the backbone alone). :class:`EvalContext` pairs it with the two dataset splits, turns uint8
batches into the backbone's input (normalisation, and for ``sslkit transfer`` an explicit channel
adaptation) and computes each split's features once (:meth:`EvalContext.features`), sharded over
the processes of a distributed run and gathered, so every protocol and every seed reuses them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import track
from torch import nn

from sslkit import distributed
from sslkit.data.base import Source
from sslkit.data.loader import BatchLoader
from sslkit.errors import SSLKitError
from sslkit.evaluate.knn import split_features

# ITU-R BT.601 luma, as torchvision's rgb_to_grayscale and PIL's convert("L").
_LUMA = (0.299, 0.587, 0.114)


@dataclass
class EvalBackbone:
    """A frozen backbone and the input it expects.

    ``module`` maps normalised ``(B, channels, image_size, image_size)`` floats to ``(B, D)`` pooled
    features. ``method`` is the run's whole method when the target is a run directory (SACC's cluster
    head lives there) and None for an export.
    """

    module: nn.Module
    image_size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    method: nn.Module | None = None
    info: dict[str, Any] = field(default_factory=dict)  # method, dataset, epochs of the pretraining


def open_backbone(target: str | Path) -> EvalBackbone:
    """Open a run directory (newest checkpoint) or an export folder as an :class:`EvalBackbone`."""
    target = Path(target)
    config_path = target / "config.json"
    if not config_path.is_file():
        raise SSLKitError(f"{target} is neither an sslkit run nor an export directory (no config.json); "
                          f"pass the folder `sslkit pretrain` or `sslkit export` wrote")
    payload = json.loads(config_path.read_text())
    if "config" in payload:  # a run directory
        from sslkit.runs import Run

        run = Run.open(target)
        method, step = run.load_method()
        d = run.derived
        return EvalBackbone(method.backbone, d["image_size"], d["channels"], tuple(d["mean"]), tuple(d["std"]),
                            f"{target} (step {step})", method=method,
                            info={"method": run.config.method, "dataset": run.config.dataset,
                                  "epochs": round(step / d["steps_per_epoch"], 3), "step": step})
    from sslkit.export import load_backbone

    module = load_backbone(target)
    cfg = payload.get("pretrained_cfg", {})
    channels, height, _ = cfg["input_size"]
    block = payload.get("sslkit", {})
    return EvalBackbone(module, height, channels, tuple(cfg["mean"]), tuple(cfg["std"]), str(target),
                        info={k: block.get(k) for k in ("method", "dataset", "epochs")})


def default_device() -> torch.device:
    """The accelerator of this process when there is one (its local rank's GPU), else the CPU."""
    if torch.cuda.is_available():
        index = distributed.rank() % torch.cuda.device_count()
        return torch.device("cuda", index)
    return torch.device("cpu")


@dataclass
class EvalContext:
    """A backbone, the split it learns from (``train``) and the split it is scored on (``test``).

    Args:
        backbone: The frozen backbone.
        train: Labelled split the probe / bank / fine-tuning uses.
        test: Split the numbers are reported on.
        device: Where the backbone runs (default: :func:`default_device`).
        batch_size: Images per batch of feature extraction.
        progress: Show progress bars (on stderr, main process only).
        adapt_channels: Convert the images' channels to the backbone's (1 -> 3 repeats the grey
            channel, 3 -> 1 takes the BT.601 luma). Off, a mismatch is an error; ``sslkit transfer``
            turns it on and reports it.
        num_workers: DataLoader workers for lazily decoded sources.
    """

    backbone: EvalBackbone
    train: Source
    test: Source
    device: torch.device = field(default_factory=default_device)
    batch_size: int = 512
    progress: bool = False
    adapt_channels: bool = False
    num_workers: int = 0
    _features: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise SSLKitError(f"--batch-size must be positive (got {self.batch_size})")
        if self.train.info.channels != self.test.info.channels:
            raise SSLKitError("the train and test splits have different numbers of channels")
        mismatch = self.data_channels != self.backbone.channels
        if mismatch and not self.adapt_channels:
            raise SSLKitError(f"the backbone takes {self.backbone.channels}-channel images but "
                              f"{self.train.info.name} has {self.data_channels}; evaluating across datasets "
                              f"is `sslkit transfer RUN {self.train.info.name}`")
        if mismatch and {self.data_channels, self.backbone.channels} != {1, 3}:
            raise SSLKitError(f"cannot adapt {self.data_channels}-channel images to a "
                              f"{self.backbone.channels}-channel backbone (only 1 <-> 3)")
        self._mean = torch.tensor(self.backbone.mean).view(1, -1, 1, 1)
        self._std = torch.tensor(self.backbone.std).view(1, -1, 1, 1)
        self.backbone.module.to(self.device).eval()
        if self.backbone.method is not None:
            self.backbone.method.to(self.device).eval()

    @property
    def data_channels(self) -> int:
        return self.train.info.channels

    @property
    def num_classes(self) -> int:
        return self.train.info.num_classes

    @property
    def is_main(self) -> bool:
        return distributed.rank() == 0

    def adaptation(self) -> list[str]:
        """Human-readable notes of what is done to the images to fit the backbone."""
        notes = []
        size, native = self.backbone.image_size, self.train.info.size
        if native is None or tuple(native) != (size, size):
            shown = "various sizes" if native is None else f"{native[0]}x{native[1]}"
            notes.append(f"images resized from {shown} to the backbone's {size}x{size} "
                         f"(shorter side to {size}, centre crop; antialiased bilinear)")
        if self.data_channels != self.backbone.channels:
            notes.append("grey images repeated to 3 channels" if self.data_channels == 1
                         else "RGB images converted to grey (BT.601 luma)")
        return notes

    # -- inputs -----------------------------------------------------------------------------------
    def to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, C, H, W)`` -> float in [0, 1] on the device, with the backbone's channel count."""
        x = images.to(self.device, non_blocking=True)
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        if x.shape[1] == 1 and self.backbone.channels == 3:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] == 3 and self.backbone.channels == 1:
            luma = torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)
            x = (x * luma).sum(dim=1, keepdim=True)
        return x

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``[0, 1]`` images with the backbone's mean and std."""
        return (x - self._mean.to(x.device)) / self._std.to(x.device)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The evaluation transform: uint8 batch -> the backbone's normalised input (no augmentation)."""
        return self.normalize(self.to_unit(images))

    def loader(self, split: str, *, shuffle: bool = False, drop_last: bool = False, seed: int = 0,
               batch_size: int | None = None, sharded: bool = False, source: Source | None = None) -> BatchLoader:
        """A :class:`BatchLoader` over ``split`` ("train" or "test") at the backbone's resolution."""
        rank, world = (distributed.rank(), distributed.world_size()) if sharded else (0, 1)
        source = source if source is not None else self.split(split)
        return BatchLoader(source, batch_size or self.batch_size, image_size=self.backbone.image_size,
                           shuffle=shuffle, drop_last=drop_last, seed=seed, rank=rank, world_size=world,
                           num_workers=0 if source.in_memory else self.num_workers)

    def split(self, name: str) -> Source:
        if name not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {name!r}")
        return self.train if name == "train" else self.test

    def track(self, iterable: Iterable, total: int, description: str) -> Iterator:
        """A transient progress bar on stderr (main process, when ``progress`` is on)."""
        return iter(track(iterable, total=total, description=description, transient=True,
                          disable=not (self.progress and self.is_main), console=Console(stderr=True)))

    # -- features ---------------------------------------------------------------------------------
    @torch.no_grad()
    def features(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled float32 features ``(N, D)`` (not normalised) and labels ``(N,)`` of a whole split, on CPU.

        Computed once per split, in batches; in a distributed run each process extracts its shard
        and the shards are gathered, in dataset order, on every process.
        """
        if split not in self._features:
            self._features[split] = self._extract(split)
        return self._features[split]

    def _extract(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        loader = self.loader(split, sharded=True)
        return split_features(self.backbone.module, loader, self.prepare, self.device,
                              lambda batches, total: self.track(batches, total, f"features of the {split} split"))
