"""Image folders: class subfolders, splits, channel conversion, skipped and corrupt files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sslkit.data.imagefolder import imagefolder
from sslkit.errors import SSLKitError
from tests.formats import write_image, write_imagefolder


def test_round_trip_without_splits(tmp_path):
    written = write_imagefolder(tmp_path, classes=("dog", "cat"), per_class=2, size=(10, 14))[""]
    source = imagefolder(path=str(tmp_path))
    assert source.images is None and source.info.size is None and source.info.channels == 3
    assert source.info.classes == ("cat", "dog") and source.labels.tolist() == [0, 0, 1, 1]
    assert source.info.root == str(tmp_path) and source.info.mean == (0.485, 0.456, 0.406)
    for i, (file, label) in enumerate(written):
        image = source.loader(i)
        assert image.dtype == torch.uint8 and image.shape == (3, 10, 14)
        assert torch.equal(image, torch.from_numpy(np.array(Image.open(file))).permute(2, 0, 1))
        assert source.labels[i] == label
    with pytest.raises(SSLKitError, match="has no test split"):
        imagefolder("test", path=str(tmp_path))


@pytest.mark.parametrize("test_dir", ["test", "val"])
def test_train_and_test_subfolders(tmp_path, test_dir):
    write_imagefolder(tmp_path, per_class=3, splits=("train", test_dir))
    train, test = imagefolder("train", path=str(tmp_path)), imagefolder("test", path=str(tmp_path))
    assert len(train) == 6 and len(test) == 6
    assert train.info.root == str(tmp_path / "train") and test.info.root == str(tmp_path / test_dir)
    assert test.info.split == "test" and test.info.classes == train.info.classes


def test_test_split_uses_train_classes(tmp_path):
    write_imagefolder(tmp_path / "train", classes=("a", "b", "c"), per_class=1)
    write_imagefolder(tmp_path / "test", classes=("c",), per_class=2)
    test = imagefolder("test", path=str(tmp_path))
    assert test.info.classes == ("a", "b", "c") and test.labels.tolist() == [2, 2]
    write_imagefolder(tmp_path / "test", classes=("zebra",), per_class=1)
    with pytest.raises(SSLKitError, match="zebra"):
        imagefolder("test", path=str(tmp_path))


def test_mixed_modes_become_rgb(tmp_path):
    write_imagefolder(tmp_path, classes=("x",), per_class=5, modes=("L", "RGBA", "CMYK", "P", "RGB"))
    source = imagefolder(path=str(tmp_path))
    assert source.info.channels == 3
    for i in range(len(source)):
        assert source.loader(i).shape == (3, 20, 30)


def test_all_grayscale_folder_has_one_channel(tmp_path):
    write_imagefolder(tmp_path, per_class=2, modes=("L",), ext="pgm")
    source = imagefolder(path=str(tmp_path))
    assert source.info.channels == 1 and len(source.info.mean) == 1
    assert source.loader(0).shape == (1, 20, 30)


def test_sixteen_bit_grayscale_is_rescaled(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(folder / "a.png")
    source = imagefolder(path=str(tmp_path))
    assert source.info.channels == 1 and int(source.loader(0).min()) == 255


def test_non_images_are_skipped(tmp_path):
    write_imagefolder(tmp_path, classes=("a",), per_class=2)
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "README.md").write_text("hi")
    (tmp_path / "empty_class").mkdir()
    source = imagefolder(path=str(tmp_path))
    assert len(source) == 2 and source.info.classes == ("a",)


def test_unreadable_image_header_is_named_at_scan_time(tmp_path):
    write_imagefolder(tmp_path, classes=("a",), per_class=1)
    (tmp_path / "a" / "zz_broken.jpg").write_bytes(b"not really a jpeg")
    with pytest.raises(SSLKitError, match="cannot read image .*zz_broken.jpg.*delete or replace"):
        imagefolder(path=str(tmp_path))


def test_truncated_image_is_named_at_load_time(tmp_path):
    files = write_imagefolder(tmp_path, classes=("a",), per_class=2)[""]
    whole = files[1][0].read_bytes()
    files[1][0].write_bytes(whole[: len(whole) // 2])  # the header survives: only decoding finds it
    source = imagefolder(path=str(tmp_path))
    assert len(source) == 2
    source.loader(0)
    with pytest.raises(SSLKitError, match=f"cannot decode image .*{files[1][0].name}"):
        source.loader(1)


def test_images_without_class_folders_are_unlabelled(tmp_path):
    write_image(tmp_path / "one.png", np.zeros((5, 5, 3), np.uint8))
    source = imagefolder(path=str(tmp_path))
    assert source.labels.tolist() == [-1] and source.info.classes == ()


def test_errors(tmp_path):
    with pytest.raises(SSLKitError, match="needs a folder"):
        imagefolder()
    with pytest.raises(SSLKitError, match="does not exist"):
        imagefolder(path=str(tmp_path / "nope"))
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(SSLKitError, match="no images in"):
        imagefolder(path=str(tmp_path / "empty"))
    with pytest.raises(SSLKitError, match="valid splits"):
        imagefolder("unlabeled", path=str(tmp_path / "empty"))


def test_relative_path_under_data_dir(tmp_path):
    write_imagefolder(tmp_path / "pets", per_class=1)
    assert len(imagefolder(path="pets", data_dir=tmp_path)) == 2
