"""A folder of class subfolders (torchvision ``ImageFolder`` layout), decoded lazily with PIL.

``imagefolder:/data/pets`` reads ``/data/pets/<class>/<image>``. When ``/data/pets/train`` exists,
it is the ``train`` split and ``test`` (or ``val`` / ``validation``) is the ``test`` split;
otherwise the whole folder is ``train`` and there is no ``test`` split. Images lying directly in
the folder, with no class subfolders, are unlabelled (label -1).

Files are kept by extension (:data:`IMAGE_EXTENSIONS`); anything else (``notes.txt``, ``.DS_Store``,
``labels.csv``) is skipped silently at scan time, as torchvision's ``ImageFolder`` does. A file with
an image extension that does not decode is an error naming the file: at scan time when its header
is unreadable and it is among the sampled files (below; every file of folders up to that size),
else when the loader decodes it.
Every image is converted to the folder's channel count: 1 when the scanned images are all
grayscale, else RGB (so RGBA, CMYK, palette and grayscale mixes all become RGB). The channel count
is decided from the headers of up to :data:`MODE_SAMPLE` evenly spaced files (PIL reads the header
only), so scanning a million-image folder stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sslkit.data._find import check_split
from sslkit.data.base import DatasetInfo, Source
from sslkit.errors import SSLKitError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm",
                              ".pgm"})
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
MODE_SAMPLE = 256
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = (0.449,), (0.226,)  # the ImageNet constants averaged over channels
TEST_DIRS = ("test", "val", "validation")


def pil_to_uint8(image: Image.Image, channels: int) -> torch.Tensor:
    """Convert a PIL image of any mode to a uint8 tensor ``(channels, H, W)`` (1 or 3 channels)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16/32-bit grayscale: rescale, do not clip
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        image = Image.fromarray(np.rint(array.clip(0, top) * (255.0 / top)).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


class FolderLoader:
    """Picklable ``loader(i) -> uint8 (C, H, W)`` for DataLoader workers."""

    def __init__(self, files: list[str], channels: int) -> None:
        self.files = files
        self.channels = channels

    def __call__(self, index: int) -> torch.Tensor:
        file = self.files[index]
        try:
            with Image.open(file) as image:
                image.load()
                return pil_to_uint8(image, self.channels)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise SSLKitError(f"cannot decode image {file} ({error}); delete or replace the file") from error


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def class_names(folder: Path) -> tuple[str, ...]:
    """Return the sorted names of the subfolders of ``folder`` that hold at least one image."""
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return tuple(d.name for d in subdirs
                 if any(f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file() for f in d.rglob("*")))


def scan(folder: Path, classes: tuple[str, ...] | None = None,
         ) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """List the images of ``folder`` with their labels; class names are the sorted subfolders.

    Args:
        folder: a split folder holding ``<class>/<image>`` (or bare images: labels -1).
        classes: the class list to use (the train split's, for the test split).
    """
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = {d.name: _images_in(d, recursive=True) for d in subdirs}
    per_class = {name: files for name, files in per_class.items() if files}
    if not per_class:
        files = _images_in(folder, recursive=False)
        return files, [-1] * len(files), classes or ()
    if classes is None:
        classes = tuple(per_class)
    unknown = sorted(set(per_class) - set(classes))
    if unknown:
        raise SSLKitError(f"{folder} has class folders {', '.join(unknown)} that the train split lacks; "
                          f"give both splits the same class folders")
    files, labels = [], []
    for name, class_files in per_class.items():
        files += class_files
        labels += [classes.index(name)] * len(class_files)
    return files, labels, classes


def _channels(files: list[Path]) -> int:
    """1 when the headers of up to :data:`MODE_SAMPLE` evenly spaced files are all grayscale, else 3.

    Raises:
        SSLKitError: a sampled file has an image extension but no readable image header (named).
    """
    step = max(1, len(files) // MODE_SAMPLE)
    gray = True
    for file in files[::step][:MODE_SAMPLE]:
        try:
            with Image.open(file) as image:
                gray = gray and image.mode in GRAY_MODES
        except (OSError, SyntaxError, ValueError) as error:
            raise SSLKitError(f"cannot read image {file} ({error}); delete or replace the file") from error
    return 1 if gray else 3


def imagefolder(split: str = "train", data_dir: str | Path | None = None, download: bool = False,
                path: str | None = None) -> Source:
    """Images in class subfolders, decoded lazily; ``path`` is the folder (``imagefolder:/data/pets``).

    ``data_dir`` resolves a relative ``path``; ``download`` is ignored. ``info.size`` is None
    (images may differ in size): the loader resizes them (``--image-size``).
    """
    if not path:
        raise SSLKitError("imagefolder needs a folder: use imagefolder:/path/to/images")
    root = Path(path).expanduser()
    if not root.is_absolute() and data_dir and not root.exists():
        root = Path(data_dir).expanduser() / root
    if not root.is_dir():
        raise SSLKitError(f"image folder {root} does not exist; check the path after 'imagefolder:'")
    check_split("imagefolder", split, ["train", "test"])
    train_dir = root / "train"
    split_dirs = {"train": train_dir if train_dir.is_dir() else root}
    test_dir = next((root / d for d in TEST_DIRS if (root / d).is_dir()), None)
    if train_dir.is_dir() and test_dir is not None:
        split_dirs["test"] = test_dir
    if split not in split_dirs:
        raise SSLKitError(f"{root} has no test split; add {root}/train and {root}/test (or val) folders, "
                          f"or evaluate on another dataset")
    classes = class_names(split_dirs["train"]) if split != "train" else None
    folder = split_dirs[split]
    files, labels, classes = scan(folder, classes)
    if not files:
        raise SSLKitError(f"no images in {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))} files, "
                          f"in class subfolders or directly); check the path")
    channels = _channels(files)
    info = DatasetInfo(name="imagefolder", split=split, classes=classes, channels=channels, size=None,
                       mean=IMAGENET_MEAN if channels == 3 else GRAY_MEAN,
                       std=IMAGENET_STD if channels == 3 else GRAY_STD, root=str(folder))
    return Source(info=info, labels=torch.tensor(labels, dtype=torch.int64),
                  loader=FolderLoader([str(f) for f in files], channels))
