"""Hugging Face ``datasets`` as a lazy source: ``hf:/data/saved``, ``hf:/data/*.parquet``, ``hf:user/name``.

``path`` is tried, in order, as:

1. a ``save_to_disk`` folder (``datasets.load_from_disk``; a ``DatasetDict`` or a ``Dataset``);
2. a folder, file or glob of parquet / arrow files (``load_dataset("parquet" | "arrow", ...)``;
   a folder with ``train``/``test`` in its file names gets those splits, as on the Hub);
3. a Hub name (``load_dataset(name)``), which needs the network or a warm HF cache.

The image column is the first ``datasets.Image`` feature, else a column named ``image``/``img``;
the label column is the first ``ClassLabel`` feature, else ``label``/``labels``/``fine_label``
(none: labels are -1). ``test`` falls back to ``validation``/``val``. Images decode in the loader.
"""

from __future__ import annotations

import glob
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sslkit.data.base import DatasetInfo, Source
from sslkit.data.imagefolder import GRAY_MEAN, GRAY_MODES, GRAY_STD, IMAGENET_MEAN, IMAGENET_STD, pil_to_uint8
from sslkit.errors import SSLKitError

IMAGE_NAMES = ("image", "img")
LABEL_NAMES = ("label", "labels", "fine_label")
SPLIT_FALLBACK = {"train": ("train",), "test": ("test", "validation", "val")}


def _decode(value: object) -> Image.Image:
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        return Image.open(io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"])
    raise TypeError(f"not an image: {type(value).__name__}")


class HFLoader:
    """Picklable ``loader(i) -> uint8 (C, H, W)`` reading one image column of a ``datasets.Dataset``."""

    def __init__(self, dataset: object, column: str, channels: int, name: str) -> None:
        self.dataset = dataset.select_columns([column])
        self.column = column
        self.channels = channels
        self.name = name

    def __call__(self, index: int) -> torch.Tensor:
        try:
            return pil_to_uint8(_decode(self.dataset[int(index)][self.column]), self.channels)
        except (OSError, SyntaxError, ValueError, TypeError) as error:
            raise SSLKitError(f"cannot decode image {index} of {self.name} ({error}); "
                              f"check the dataset's {self.column!r} column") from error


def _first_line(error: Exception) -> str:
    """``Type: first line of the message``, so a long library error stays on one line."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0].strip()}" if lines else type(error).__name__


def _open(path: str) -> object:
    import datasets

    local = Path(path).expanduser()
    if local.is_dir() and ((local / "dataset_dict.json").is_file() or (local / "state.json").is_file()):
        try:
            return datasets.load_from_disk(str(local))
        except Exception as error:  # noqa: BLE001 - pyarrow and datasets raise many types for damaged files
            raise SSLKitError(f"cannot read the saved dataset {path} ({_first_line(error)}); its files are "
                              f"damaged or incomplete: save it again with save_to_disk") from error
    files = sorted(glob.glob(str(local / "**" / "*"), recursive=True) if local.is_dir()
                   else glob.glob(str(local)))
    kinds = {Path(f).suffix for f in files} & {".parquet", ".arrow"}
    try:
        if local.is_dir() and kinds:
            return datasets.load_dataset("parquet" if ".parquet" in kinds else "arrow", data_dir=str(local))
        if kinds:
            return datasets.load_dataset("parquet" if ".parquet" in kinds else "arrow",
                                         data_files={"train": [f for f in files if Path(f).suffix in kinds]})
    except Exception as error:
        raise SSLKitError(f"cannot read the data files in {path} ({_first_line(error)}); "
                          f"check that they are valid parquet/arrow files") from error
    if local.exists():
        raise SSLKitError(f"{path} is neither a save_to_disk folder nor parquet/arrow files; "
                          f"save it with Dataset.save_to_disk or convert it to parquet")
    try:
        return datasets.load_dataset(path)
    except Exception as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise SSLKitError(f"cannot load Hugging Face dataset {path!r} ({first}); when offline, use a "
                          f"save_to_disk folder or parquet files: hf:/path/to/folder") from error


def _pick_split(data: object, split: str, path: str) -> object:
    import datasets

    if isinstance(data, datasets.Dataset):
        if split == "train":
            return data
        raise SSLKitError(f"{path} is a single dataset with no {split!r} split; save a DatasetDict with "
                          f"train and test splits, or evaluate on another dataset")
    for name in SPLIT_FALLBACK.get(split, (split,)):
        if name in data:
            return data[name]
    valid = sorted(set(data) | ({"test"} if {"validation", "val"} & set(data) else set()))
    raise SSLKitError(f"{path} has no split {split!r}; valid splits: {', '.join(valid)}")


def _columns(dataset: object, path: str) -> tuple[str, str | None]:
    import datasets

    features = dataset.features
    image = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
    image = image or next((c for c in IMAGE_NAMES if c in features), None)
    if image is None:
        raise SSLKitError(f"{path} has no image column (columns: {', '.join(features)}); "
                          f"name it 'image' or cast it to datasets.Image()")
    label = next((c for c, f in features.items() if isinstance(f, datasets.ClassLabel)), None)
    label = label or next((c for c in LABEL_NAMES if c in features), None)
    return image, label


def hf(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
       path: str | None = None) -> Source:
    """A Hugging Face dataset, decoded lazily; ``path`` is a folder, glob or Hub name (see module doc).

    ``data_dir`` resolves a relative local ``path``; ``download`` is ignored (Hub names download).
    """
    if not path:
        raise SSLKitError("hf needs a dataset: use hf:/path/to/saved_dataset, hf:/path/*.parquet "
                          "or hf:user/name")
    if data_dir and not Path(path).expanduser().is_absolute() and (Path(data_dir) / path).exists():
        path = str(Path(data_dir).expanduser() / path)
    dataset = _pick_split(_open(path), split, path)
    image_col, label_col = _columns(dataset, path)
    if len(dataset) == 0:
        raise SSLKitError(f"split {split!r} of {path} is empty")
    classes: tuple[str, ...] = ()
    if label_col is None:
        labels = torch.full((len(dataset),), -1, dtype=torch.int64)
    else:
        feature = dataset.features[label_col]
        values = np.asarray(dataset.select_columns([label_col]).with_format("numpy")[label_col])
        labels = torch.from_numpy(values.astype(np.int64).reshape(-1))
        names = getattr(feature, "names", None)
        classes = tuple(names) if names else tuple(str(i) for i in range(int(labels.max()) + 1))
    first = _decode(dataset.select_columns([image_col])[0][image_col])
    channels = 1 if first.mode in GRAY_MODES else 3
    info = DatasetInfo(name="hf", split=split, classes=classes, channels=channels, size=None,
                       mean=IMAGENET_MEAN if channels == 3 else GRAY_MEAN,
                       std=IMAGENET_STD if channels == 3 else GRAY_STD, root=str(path))
    return Source(info=info, labels=labels, loader=HFLoader(dataset, image_col, channels, path))
