"""scikit-learn's bundled handwritten digits (UCI optdigits test set): always available, offline.

1,797 grayscale 8x8 images with values 0..16, scaled to uint8 by ``round(v * 255 / 16)``. The split
is fixed and deterministic: the first :data:`TRAIN_SIZE` (1,500) images in the bundled order are
``train``, the remaining 297 are ``test`` (the bundled order is already mixed across classes, every
class has 27-33 test images).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sslkit.data._find import check_no_path, check_split
from sslkit.data.base import DatasetInfo, Source

TRAIN_SIZE = 1500


def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported lazily: sklearn is slow to import

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return images, bunch.target.astype(np.int64)


def digits(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
           path: str | None = None) -> Source:
    """The 8x8 digits bundled with scikit-learn: 1,500 train / 297 test images, 10 classes.

    ``data_dir`` and ``download`` are accepted for a uniform signature and ignored (the data ships
    with scikit-learn). Mean and std are those of the train split.
    """
    check_no_path("digits", path)
    check_split("digits", split, ["train", "test"])
    images, labels = _load()
    train = images[:TRAIN_SIZE].astype(np.float64) / 255.0
    mean, std = round(float(train.mean()), 4), round(float(train.std()), 4)
    rows = slice(0, TRAIN_SIZE) if split == "train" else slice(TRAIN_SIZE, None)
    info = DatasetInfo(name="digits", split=split, classes=tuple(str(i) for i in range(10)), channels=1,
                       size=(8, 8), mean=(mean,), std=(std,), root="")
    return Source(info=info, labels=torch.from_numpy(labels[rows].copy()),
                  images=torch.from_numpy(images[rows].copy()).unsqueeze(1))
