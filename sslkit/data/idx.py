"""Fashion-MNIST and MNIST from their IDX files (our own parser, gzipped or plain).

IDX format (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number ``0x00 0x00 <dtype> <ndim>``,
then ``ndim`` big-endian uint32 dimensions, then the data in C order, big-endian. The dtype codes
are 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from sslkit.data._find import check_no_path, check_split, download_dir, fetch, find_dataset_dir, find_file
from sslkit.data.base import DatasetInfo, Source
from sslkit.errors import SSLKitError

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(i) for i in range(10))


def _names(prefix: str, kind: str) -> list[str]:
    base = f"{prefix}-{kind}-ubyte"
    return [base + ".gz", base]


def read_idx(file: str | Path) -> np.ndarray:
    """Parse one IDX file (``.gz`` or plain) into a numpy array of its native dtype and shape.

    Raises:
        SSLKitError: the file is not IDX, is truncated, or is a corrupt gzip stream.
    """
    file = Path(file)
    try:
        raw = file.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise SSLKitError(f"cannot read {file}: {error}; delete it and get the dataset again") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise SSLKitError(f"{file} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
                          f"delete it and get the dataset again")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SSLKitError(f"{file} is truncated (header cut short); delete it and get the dataset again")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SSLKitError(f"{file} is truncated or corrupt: {len(raw) - header} data bytes, expected "
                          f"{expected} for shape {dims}; delete it and get the dataset again")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx_split(folder: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``{prefix}-images-idx3-ubyte`` and labels from ``folder`` as (uint8 (N,1,H,W), int64 (N,))."""
    image_file = find_file(folder, _names(prefix, "images-idx3"))
    label_file = find_file(folder, _names(prefix, "labels-idx1"))
    if image_file is None or label_file is None:
        raise SSLKitError(f"{folder} lacks the {prefix} IDX files; put them there or use another --data-dir")
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise SSLKitError(f"{image_file} holds {images.dtype} {images.shape}, expected uint8 (N, H, W)")
    if labels.ndim != 1 or len(labels) != len(images):
        raise SSLKitError(f"{label_file} holds {labels.shape} labels for {len(images)} images in "
                          f"{image_file}; the two files do not belong together")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _idx_dataset(name: str, tv_name: str, classes: tuple[str, ...], mean: float, std: float, hint: str,
                 split: str, data_dir: str | Path | None, download: bool, path: str | None) -> Source:
    check_no_path(name, path)
    check_split(name, split, list(SPLIT_PREFIX))
    prefix = SPLIT_PREFIX[split]
    candidates = [name, name.replace("-", "_"), f"{tv_name}/raw"]
    required = [_names(prefix, "images-idx3"), _names(prefix, "labels-idx1")]
    if download:
        import torchvision.datasets as tvd

        dest = download_dir(data_dir)
        fetch(name, lambda d: getattr(tvd, tv_name)(str(d), train=split == "train", download=True), dest)
        data_dir = dest
    folder = find_dataset_dir(name, candidates, required, data_dir, hint)
    images, labels = load_idx_split(folder, prefix)
    info = DatasetInfo(name=name, split=split, classes=classes, channels=1, size=tuple(images.shape[2:]),
                       mean=(mean,), std=(std,), root=str(folder))
    return Source(info=info, labels=labels, images=images)


def fashion_mnist(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
                  path: str | None = None) -> Source:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train / 10,000 test 28x28 grayscale images, 10 classes."""
    hint = ("Get it with `apt-get install dataset-fashion-mnist`, `--download` when online, or put the "
            "IDX files (train-images-idx3-ubyte.gz, ...) in $SSLKIT_DATA/fashion-mnist")
    return _idx_dataset("fashion-mnist", "FashionMNIST", FASHION_CLASSES, 0.2860, 0.3530, hint,
                        split, data_dir, download, path)


def mnist(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
          path: str | None = None) -> Source:
    """MNIST (LeCun et al. 1998): 60,000 train / 10,000 test 28x28 grayscale digits."""
    hint = ("Get it with `--download` when online, or put the IDX files (train-images-idx3-ubyte.gz, ...) "
            "in $SSLKIT_DATA/mnist")
    return _idx_dataset("mnist", "MNIST", MNIST_CLASSES, 0.1307, 0.3081, hint,
                        split, data_dir, download, path)
