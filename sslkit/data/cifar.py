"""CIFAR-10 and CIFAR-100 from the official "python version" pickle batches, unpickled safely.

The batches (``cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta`` and
``cifar-100-python/train, test, meta``) are Python-2 pickles of dicts holding strings, lists and
numpy arrays. A pickle can call any importable function, so :class:`SafeUnpickler` only resolves
the three numpy globals those arrays need and refuses everything else. ``data`` rows are 3072
bytes: the 32x32 red plane, then green, then blue (row-major), i.e. ``reshape(N, 3, 32, 32)``.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslkit.data._find import check_no_path, check_split, download_dir, fetch, find_dataset_dir
from sslkit.data.base import DatasetInfo, Source
from sslkit.errors import SSLKitError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the numpy globals needed to rebuild arrays."""

    def __init__(self, file: io.BufferedIOBase, filename: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.filename = filename

    def find_class(self, module: str, name: str) -> object:
        """Return an allowed numpy global; refuse any other (it could run arbitrary code)."""
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise SSLKitError(f"{self.filename} is not a CIFAR batch: its pickle wants {module}.{name}, which "
                          f"sslkit refuses to load; delete it and get the dataset again")


def load_batch(file: str | Path) -> dict[str, object]:
    """Unpickle one CIFAR batch or meta file safely; keys come back as ``str``."""
    file = Path(file)
    try:
        with file.open("rb") as handle:
            data = SafeUnpickler(handle, str(file)).load()
    except SSLKitError:
        raise
    except Exception as error:  # truncated or garbled pickles raise many types
        raise SSLKitError(f"cannot read {file} ({type(error).__name__}: {error}); it is truncated or "
                          f"corrupt: delete it and get the dataset again") from error
    if not isinstance(data, dict):
        raise SSLKitError(f"{file} holds a {type(data).__name__}, not a CIFAR batch dict")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}


def _images_labels(files: list[Path], label_key: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    images, labels = [], {}
    for file in files:
        batch = load_batch(file)
        data = np.asarray(batch.get("data"))
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise SSLKitError(f"{file}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
        images.append(data.reshape(-1, 3, 32, 32))
        for key in (label_key, "coarse_labels"):
            if key in batch:
                values = np.asarray(batch[key], dtype=np.int64)
                if len(values) != len(data):
                    raise SSLKitError(f"{file}: {len(values)} {key} for {len(data)} images")
                labels.setdefault(key, []).append(values)
        if label_key not in batch:
            raise SSLKitError(f"{file} has no {label_key!r}; it is not a CIFAR batch")
    out = {k: torch.from_numpy(np.concatenate(v)) for k, v in labels.items()}
    return torch.from_numpy(np.concatenate(images)), out


def _strings(values: object) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)


def _locate(name: str, subdir: str, files: list[str], data_dir: str | Path | None, download: bool,
            tv_class: str, archive: str) -> Path:
    hint = (f"Get it with `--download` when online, or extract {archive} into $SSLKIT_DATA "
            f"(giving $SSLKIT_DATA/{subdir})")
    if download:
        import torchvision.datasets as tvd

        dest = download_dir(data_dir)
        fetch(name, lambda d: getattr(tvd, tv_class)(str(d), download=True), dest)
        data_dir = dest
    return find_dataset_dir(name, [subdir, f"{name}/{subdir}"], files, data_dir, hint)


def cifar10(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
            path: str | None = None) -> Source:
    """CIFAR-10 (Krizhevsky 2009): 50,000 train / 10,000 test 32x32 colour images, 10 classes."""
    check_no_path("cifar10", path)
    check_split("cifar10", split, ["train", "test"])
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    folder = _locate("cifar10", "cifar-10-batches-py", [*names, "batches.meta"], data_dir, download,
                     "CIFAR10", "cifar-10-python.tar.gz")
    images, labels = _images_labels([folder / n for n in names], "labels")
    classes = _strings(load_batch(folder / "batches.meta")["label_names"])
    info = DatasetInfo("cifar10", split, classes, 3, (32, 32), CIFAR10_MEAN, CIFAR10_STD, str(folder))
    return Source(info=info, labels=labels["labels"], images=images)


@dataclass
class CIFAR100Source(Source):
    """A CIFAR-100 split: ``labels`` are the 100 fine classes, plus the 20 coarse superclasses."""

    coarse_labels: torch.Tensor | None = None  # (N,) int64
    coarse_classes: tuple[str, ...] = ()


def cifar100(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
             path: str | None = None) -> CIFAR100Source:
    """CIFAR-100 (Krizhevsky 2009): 50,000 / 10,000 32x32 images, 100 fine and 20 coarse classes."""
    check_no_path("cifar100", path)
    check_split("cifar100", split, ["train", "test"])
    folder = _locate("cifar100", "cifar-100-python", [split, "meta"], data_dir, download,
                     "CIFAR100", "cifar-100-python.tar.gz")
    images, labels = _images_labels([folder / split], "fine_labels")
    meta = load_batch(folder / "meta")
    info = DatasetInfo("cifar100", split, _strings(meta["fine_label_names"]), 3, (32, 32),
                       CIFAR100_MEAN, CIFAR100_STD, str(folder))
    return CIFAR100Source(info=info, labels=labels["fine_labels"], images=images,
                          coarse_labels=labels.get("coarse_labels"),
                          coarse_classes=_strings(meta.get("coarse_label_names", ())))


def cifar100_coarse_labels(source: Source) -> torch.Tensor:
    """Return the 20-superclass labels of a CIFAR-100 source (SSLKitError for other datasets)."""
    coarse = getattr(source, "coarse_labels", None)
    if coarse is None:
        raise SSLKitError(f"dataset {source.info.name} has no coarse labels; only cifar100 does")
    return coarse
