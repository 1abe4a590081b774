"""The batch loader behind training and kNN evaluation: uint8 image batches, sharded and resumable.

Order: each epoch draws one permutation from ``torch.Generator().manual_seed(seed * 1_000_003 +
epoch)``, identical on every rank. Global batch ``g`` is ``perm[g*B*W : (g+1)*B*W]`` (``B`` the
per-rank batch size, ``W`` the world size) and rank ``r`` takes its slice ``[r*B : (r+1)*B]``, so W
processes see exactly the batches one process with batch ``B*W`` would. ``start_batch`` skips
batches exactly (mid-epoch resume).

In-memory sources are indexed directly in the main process (no workers); a requested
``image_size`` is applied once, up front, to the whole tensor. Lazy sources (folders, HF) go
through a ``torch.utils.data.DataLoader`` with ``num_workers``: each sample is decoded, resized so
its shorter side is ``image_size`` and center-cropped to ``image_size x image_size`` at decode time.
That is the only per-sample geometric work; random crops and the other augmentations happen later,
batched, on the uint8 batches this loader yields.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from sslkit.data.base import Source
from sslkit.errors import SSLKitError


def resize_center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 ``(B, C, H, W)`` so the shorter side is ``size`` (antialiased bilinear), then
    center-crop to ``size x size``; returns uint8."""
    h, w = images.shape[-2:]
    if (h, w) == (size, size):
        return images
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    out = F.interpolate(images.float(), size=(new_h, new_w), mode="bilinear", antialias=True,
                        align_corners=False)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = out[..., top:top + size, left:left + size]
    return out.round_().clamp_(0, 255).to(torch.uint8).contiguous()


class _Decoded(torch.utils.data.Dataset):
    """A lazy source's samples, decoded and brought to ``size x size`` (in DataLoader workers)."""

    def __init__(self, source: Source, size: int | None) -> None:
        self.source, self.size = source, size

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.source.get(index)
        if self.size is not None:
            image = resize_center_crop(image.unsqueeze(0), self.size)[0]
        return image, torch.tensor(label, dtype=torch.int64)


class BatchLoader:
    """Yield ``(uint8 images (B, C, S, S), int64 labels (B,))`` batches of one source for one rank.

    Args:
        source: the dataset split.
        batch_size: images per batch *per rank*.
        image_size: output side ``S``; None keeps the native size (required for variable-size sources).
        shuffle: draw a fresh permutation per epoch (else the natural order).
        drop_last: drop the last incomplete global batch (else the last batch may be smaller, and a
            rank whose slice of it is empty yields one batch fewer; see :meth:`__len__`).
        seed: the run seed; with ``epoch`` it fixes the order on every rank.
        rank: this process's rank; world_size: the number of processes.
        num_workers: DataLoader workers that decode lazy sources (in-memory sources use none).
    """

    def __init__(self, source: Source, batch_size: int, *, image_size: int | None = None,
                 shuffle: bool = True, drop_last: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0) -> None:
        if batch_size < 1:
            raise SSLKitError(f"batch size must be at least 1 (got {batch_size}); fix --batch-size")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        n, global_batch = len(source), batch_size * world_size
        if n == 0:
            raise SSLKitError(f"dataset {source.info.name} ({source.info.split}) is empty")
        if drop_last and n < global_batch:
            per = f" ({batch_size} x {world_size} processes)" if world_size > 1 else ""
            raise SSLKitError(f"batch size {global_batch}{per} is larger than the dataset ({n} images); "
                              f"lower --batch-size")
        if image_size is None and source.info.size is None:
            raise SSLKitError(f"dataset {source.info.name} has images of different sizes; "
                              f"set --image-size (e.g. --image-size 224)")
        self.source, self.batch_size, self.image_size = source, batch_size, image_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.num_global_batches = n // global_batch if drop_last else math.ceil(n / global_batch)
        self._images = source.images
        if self._images is not None and image_size is not None \
                and tuple(self._images.shape[-2:]) != (image_size, image_size):
            self._images = torch.cat([resize_center_crop(chunk, image_size)
                                      for chunk in self._images.split(4096)])

    def __len__(self) -> int:
        """Batches per epoch for this rank."""
        if self.drop_last:
            return self.num_global_batches
        tail = len(self.source) - (self.num_global_batches - 1) * self.batch_size * self.world_size
        return self.num_global_batches - (1 if tail <= self.rank * self.batch_size else 0)

    def order(self, epoch: int) -> torch.Tensor:
        """The epoch's global order of sample indices (same on every rank)."""
        if not self.shuffle:
            return torch.arange(len(self.source))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.source), generator=generator)

    def batch_indices(self, epoch: int, start_batch: int = 0) -> list[torch.Tensor]:
        """This rank's index batches for ``epoch``, from batch ``start_batch`` on."""
        perm, b, gb = self.order(epoch), self.batch_size, self.batch_size * self.world_size
        batches = [perm[g * gb:(g + 1) * gb][self.rank * b:(self.rank + 1) * b]
                   for g in range(self.num_global_batches)]
        return [idx for idx in batches if len(idx)][start_batch:]

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield this rank's batches of ``epoch``, skipping the first ``start_batch`` exactly."""
        batches = self.batch_indices(epoch, start_batch)
        if self._images is not None:
            for idx in batches:
                yield self._images[idx], self.source.labels[idx]
            return
        loader = torch.utils.data.DataLoader(
            _Decoded(self.source, self.image_size), batch_sampler=[idx.tolist() for idx in batches],
            num_workers=self.num_workers, persistent_workers=False)
        iterator = iter(loader)
        while True:
            try:
                images, labels = next(iterator)
            except StopIteration:
                return
            except SSLKitError as error:  # a worker's error arrives with its traceback: keep the message
                lines = [line for line in str(error).strip().splitlines() if line.strip()]
                message = lines[-1].split("SSLKitError: ", 1)[-1] if lines else str(error)
                raise SSLKitError(message) from None
            yield images, labels
