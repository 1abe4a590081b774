"""The dataset-source contract: what every entry of ``sslkit.datasets`` returns.

A factory registered under ``sslkit.datasets`` is called as
``factory(split=..., root=..., download=..., path=...)`` and returns a :class:`Source`.
Small datasets hold every image in one uint8 tensor (:attr:`Source.images`); folders and Hugging
Face datasets decode lazily, one image at a time, through :meth:`Source.get`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of one split of a dataset."""

    name: str
    split: str
    classes: tuple[str, ...]
    channels: int
    size: tuple[int, int] | None  # native (H, W); None when images differ in size
    mean: tuple[float, ...]
    std: tuple[float, ...]
    root: str = ""  # where the files were found ("" for bundled data)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class Source:
    """One split of a dataset: uint8 images ``(C, H, W)`` and integer labels (-1 = unlabelled).

    In-memory sources set ``images`` to a ``(N, C, H, W)`` uint8 tensor. Lazy sources leave it
    ``None`` and implement ``loader(i) -> uint8 (C, H, W)`` (called in DataLoader workers).
    """

    info: DatasetInfo
    labels: torch.Tensor  # (N,) int64
    images: torch.Tensor | None = None  # (N, C, H, W) uint8, in memory
    loader: object | None = field(default=None, repr=False)  # callable i -> uint8 (C, H, W)

    def __post_init__(self) -> None:
        if self.images is None and self.loader is None:
            raise ValueError("a Source needs either in-memory images or a loader")
        if self.images is not None:
            if self.images.dtype != torch.uint8 or self.images.ndim != 4:
                raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                                 f"{tuple(self.images.shape)}")
            if len(self.images) != len(self.labels):
                raise ValueError("images and labels differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def get(self, index: int) -> tuple[torch.Tensor, int]:
        """Return ``(uint8 image (C, H, W), label)``."""
        image = self.images[index] if self.images is not None else self.loader(index)
        return image, int(self.labels[index])
