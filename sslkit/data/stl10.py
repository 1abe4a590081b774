"""STL-10 from the official binary files (``stl10_binary/*.bin``).

Each image in ``*_X.bin`` is 3 x 96 x 96 uint8 stored column-major (Fortran order within each
channel, as written by MATLAB): reading it as ``(N, 3, 96, 96)`` gives ``(N, C, W, H)``, so the
last two axes are swapped to get upright ``(N, C, H, W)`` images. ``*_y.bin`` holds one uint8 label
per image in 1..10, mapped to 0..9. The 100,000 ``unlabeled`` images get label -1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sslkit.data._find import check_no_path, check_split, download_dir, fetch, find_dataset_dir
from sslkit.data.base import DatasetInfo, Source
from sslkit.errors import SSLKitError

IMAGE_BYTES = 3 * 96 * 96
SPLITS = ("train", "test", "unlabeled", "train+unlabeled")
STL10_MEAN, STL10_STD = (0.4408, 0.4279, 0.3867), (0.2682, 0.2610, 0.2686)
STL10_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")


def read_images(file: Path, chunk: int = 4096) -> torch.Tensor:
    """Read an STL-10 ``*_X.bin`` file into an upright uint8 tensor ``(N, 3, 96, 96)``.

    The file is memory-mapped and transposed chunk by chunk, so peak memory stays near one copy.
    """
    size = file.stat().st_size
    if size % IMAGE_BYTES:
        raise SSLKitError(f"{file} is truncated: {size} bytes is not a multiple of one image "
                          f"({IMAGE_BYTES} bytes); delete it and get the dataset again")
    n = size // IMAGE_BYTES
    out = torch.empty((n, 3, 96, 96), dtype=torch.uint8)
    if n == 0:
        return out
    raw = np.memmap(file, dtype=np.uint8, mode="r", shape=(n, 3, 96, 96))
    for start in range(0, n, chunk):
        block = np.ascontiguousarray(raw[start:start + chunk].transpose(0, 1, 3, 2))
        out[start:start + len(block)] = torch.from_numpy(block)
    del raw
    return out


def read_labels(file: Path, count: int) -> torch.Tensor:
    """Read an STL-10 ``*_y.bin`` file (uint8 labels 1..10) as int64 labels 0..9."""
    labels = np.fromfile(file, dtype=np.uint8).astype(np.int64)
    if len(labels) != count:
        raise SSLKitError(f"{file} holds {len(labels)} labels for {count} images; the files do not belong "
                          f"together: get the dataset again")
    if count and (labels.min() < 1 or labels.max() > 10):
        raise SSLKitError(f"{file} holds labels outside 1..10; it is corrupt: get the dataset again")
    return torch.from_numpy(labels - 1)


def _class_names(folder: Path) -> tuple[str, ...]:
    file = folder / "class_names.txt"
    if file.is_file():
        names = tuple(line.strip() for line in file.read_text().splitlines() if line.strip())
        if len(names) == 10:
            return names
    return STL10_CLASSES


def stl10(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
          path: str | None = None) -> Source:
    """STL-10 (Coates et al. 2011): 5,000 train / 8,000 test / 100,000 unlabelled 96x96 images.

    Splits: ``train``, ``test``, ``unlabeled`` (labels -1) and ``train+unlabeled`` (train first).
    """
    check_no_path("stl10", path)
    check_split("stl10", split, SPLITS)
    parts = split.split("+")
    required = [f"{p}_X.bin" for p in parts] + [f"{p}_y.bin" for p in parts if p != "unlabeled"]
    hint = ("Get it with `--download` when online, or extract stl10_binary.tar.gz into $SSLKIT_DATA "
            "(giving $SSLKIT_DATA/stl10_binary)")
    if download:
        import torchvision.datasets as tvd

        dest = download_dir(data_dir)
        fetch("stl10", lambda d: tvd.STL10(str(d), split="train", download=True), dest)
        data_dir = dest
    folder = find_dataset_dir("stl10", ["stl10_binary", "stl10/stl10_binary"], required, data_dir, hint)
    images, labels = [], []
    for part in parts:
        x = read_images(folder / f"{part}_X.bin")
        y = (torch.full((len(x),), -1, dtype=torch.int64) if part == "unlabeled"
             else read_labels(folder / f"{part}_y.bin", len(x)))
        images.append(x)
        labels.append(y)
    info = DatasetInfo("stl10", split, _class_names(folder), 3, (96, 96), STL10_MEAN, STL10_STD, str(folder))
    if len(parts) == 1:
        return Source(info=info, labels=labels[0], images=images[0])
    return Source(info=info, labels=torch.cat(labels), images=torch.cat(images))
