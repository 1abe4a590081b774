"""Writers of the official on-disk dataset formats, so tests run sslkit's real parsers on tiny files.

Every writer lays files out exactly as the official archive extracts them and returns the arrays it
wrote (images as uint8 ``(N, C, H, W)`` in upright orientation, labels as they should load), so
tests can check a round trip. Never download in tests: write small files with these instead.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# The official CIFAR-100 superclass of each fine label 0..99 (the ``coarse_labels`` field of the real
# ``train``/``test`` files, e.g. superclass 0 aquatic_mammals = beaver 4, dolphin 30, otter 55, seal 72,
# whale 95), as tabulated by ryanchankh/cifar100coarse ``sparse2coarse.py``.
CIFAR100_COARSE_OF_FINE = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def write_idx_file(file: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write one IDX file: magic ``00 00 08 ndim``, big-endian uint32 dims, uint8 data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    file = Path(str(file) + ".gz") if gz else Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return file


def write_idx(folder: str | Path, images: np.ndarray, labels: np.ndarray, prefix: str = "train",
              gz: bool = True) -> tuple[Path, Path]:
    """Write ``{prefix}-images-idx3-ubyte[.gz]`` ((N, 28, 28) uint8) and the matching labels file."""
    folder = Path(folder)
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 4:
        images = images[:, 0]
    return (write_idx_file(folder / f"{prefix}-images-idx3-ubyte", images, gz),
            write_idx_file(folder / f"{prefix}-labels-idx1-ubyte", np.asarray(labels, np.uint8), gz))


def fake_idx(folder: str | Path, n_train: int = 20, n_test: int = 10, gz: bool = True,
             seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write both splits of a random 28x28 Fashion-MNIST/MNIST-style dataset; return the arrays."""
    rng, out = _rng(seed), {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.int64)
        write_idx(folder, images, labels, prefix, gz)
        out[split] = (images, labels)
    return out


class _Py2Pickler(pickle._Pickler):
    """Pickle like Python 2's cPickle (protocol 2), as the official CIFAR batches were written.

    Python-2 ``str`` (our ``bytes`` and ``str``) becomes ``BINSTRING`` and numpy's reconstruct
    function is named ``numpy.core.multiarray._reconstruct``, as in the real files.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes | str) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj: object, name: str | None = None) -> None:
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__name__}\n".encode())
        self.memoize(obj)


def py2_pickle(obj: object, file: Path) -> None:
    """Write ``obj`` as a Python-2-style protocol-2 pickle."""
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("wb") as handle:
        _Py2Pickler(handle, protocol=2).dump(obj)


def _cifar_images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def write_cifar10(folder: str | Path, n_train: int = 50, n_test: int = 10,
                  seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write ``cifar-10-batches-py/`` (data_batch_1..5, test_batch, batches.meta); return the arrays."""
    root, rng = Path(folder) / "cifar-10-batches-py", _rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = _cifar_images(rng, n), rng.integers(0, 10, n).astype(np.int64)
        out[split] = (images, labels)
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        for i, (part_x, part_y) in enumerate(zip(np.array_split(images, len(names)),
                                                 np.array_split(labels, len(names)), strict=True)):
            py2_pickle({"batch_label": f"{split} batch {i + 1} of {len(names)}",
                        "labels": [int(v) for v in part_y], "data": part_x.reshape(len(part_x), -1),
                        "filenames": [f"img_{i}_{j}.png" for j in range(len(part_x))]}, root / names[i])
    py2_pickle({"num_cases_per_batch": 10000, "label_names": CIFAR10_CLASSES, "num_vis": 3072},
               root / "batches.meta")
    return out


def write_cifar100(folder: str | Path, n_train: int = 50, n_test: int = 10,
                   seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Write ``cifar-100-python/`` (train, test, meta); return ``(images, fine, coarse)`` per split."""
    root, rng = Path(folder) / "cifar-100-python", _rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = _cifar_images(rng, n)
        fine = rng.integers(0, 100, n).astype(np.int64)
        coarse = np.asarray(CIFAR100_COARSE_OF_FINE, dtype=np.int64)[fine]
        out[split] = (images, fine, coarse)
        py2_pickle({"filenames": [f"img_{j}.png" for j in range(n)], "batch_label": f"{split} batch 1 of 1",
                    "fine_labels": [int(v) for v in fine], "coarse_labels": [int(v) for v in coarse],
                    "data": images.reshape(n, -1)}, root / split)
    py2_pickle({"fine_label_names": [f"fine_{i}" for i in range(100)],
                "coarse_label_names": [f"coarse_{i}" for i in range(20)]}, root / "meta")
    return out


def write_stl10(folder: str | Path, n_train: int = 10, n_test: int = 8, n_unlabeled: int = 6,
                seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write ``stl10_binary/`` (*_X.bin column-major, *_y.bin labels 1..10, class_names.txt).

    Returns upright ``(N, 3, 96, 96)`` images and 0-based labels (-1 for unlabeled) per split.
    """
    root, rng = Path(folder) / "stl10_binary", _rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        images[:, :, :8, :] = 255  # a bright band along the top rows: upright images show it on top
        images[:, :, 8:, :] //= 2
        # column-major per channel: MATLAB wrote X(:) with rows varying fastest, i.e. (N, C, W, H) in C order
        (root / f"{split}_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())
        labels = np.full(n, -1, np.int64)
        if split != "unlabeled":
            labels = rng.integers(0, 10, n).astype(np.int64)
            (root / f"{split}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())
        out[split] = (images, labels)
    (root / "class_names.txt").write_text("airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n")
    return out


def write_image(file: Path, array: np.ndarray, mode: str = "RGB") -> Path:
    """Save an ``(H, W, 3)`` uint8 array as an image of the given PIL mode (RGB, L, RGBA, CMYK, P)."""
    from PIL import Image

    image = Image.fromarray(np.asarray(array, np.uint8), "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    file.parent.mkdir(parents=True, exist_ok=True)
    image.save(file)
    return file


def write_imagefolder(folder: str | Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 3,
                      size: tuple[int, int] = (20, 30), modes: tuple[str, ...] = ("RGB",), ext: str = "png",
                      splits: tuple[str, ...] = (), seed: int = 0) -> dict[str, list[tuple[Path, int]]]:
    """Write ``folder/[split/]<class>/<i>.<ext>`` images; modes cycle over the files.

    ``splits=()`` writes one folder with no split subfolders. Returns ``(file, label)`` per split
    (key ``""`` without splits), in the sorted order sslkit scans.
    """
    rng, out = _rng(seed), {}
    for split in splits or ("",):
        files = []
        for label, name in enumerate(sorted(classes)):
            for i in range(per_class):
                mode = modes[(label * per_class + i) % len(modes)]
                file_ext = "tiff" if mode == "CMYK" and ext == "png" else ext
                array = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
                file = Path(folder) / split / name / f"{i:03d}.{file_ext}"
                files.append((write_image(file, array, mode), label))
        out[split] = files
    return out


def write_hf_saved(folder: str | Path, n_train: int = 8, n_test: int = 4, size: tuple[int, int] = (16, 12),
                   mode: str = "RGB", classes: tuple[str, ...] = ("a", "b", "c"), test_name: str = "test",
                   seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Write a ``DatasetDict.save_to_disk`` folder with an ``Image`` column and a ``ClassLabel`` column."""
    import datasets
    from PIL import Image

    rng, out, splits = _rng(seed), {}, {}
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=list(classes))})
    for split, n in (("train", n_train), (test_name, n_test)):
        arrays = rng.integers(0, 256, (n, *size, 3), dtype=np.uint8)
        labels = rng.integers(0, len(classes), n).astype(np.int64)
        images = [Image.fromarray(a, "RGB").convert(mode) for a in arrays]
        columns = {"image": images, "label": labels.tolist()}
        splits[split] = datasets.Dataset.from_dict(columns, features=features)
        upright = np.stack([np.asarray(im.convert("L" if mode == "L" else "RGB")) for im in images])
        out[split] = (upright[:, None] if mode == "L" else upright.transpose(0, 3, 1, 2), labels)
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return out
