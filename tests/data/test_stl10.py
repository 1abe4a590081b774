"""STL-10 binaries: column-major images come out upright, labels 1..10 become 0..9."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslkit.data.stl10 import IMAGE_BYTES, stl10
from sslkit.errors import SSLKitError
from tests.formats import write_stl10


def test_round_trip_all_splits(tmp_path):
    arrays = write_stl10(tmp_path, n_train=4, n_test=3, n_unlabeled=2)
    for split in ("train", "test", "unlabeled"):
        source = stl10(split, data_dir=tmp_path)
        images, labels = arrays[split]
        assert source.images.shape == (len(images), 3, 96, 96) and source.images.dtype == torch.uint8
        assert torch.equal(source.images, torch.from_numpy(images))
        assert torch.equal(source.labels, torch.from_numpy(labels))
        assert source.info.split == split
    both = stl10("train+unlabeled", data_dir=tmp_path)
    assert len(both) == 6 and both.labels[4:].tolist() == [-1, -1]
    assert torch.equal(both.images[:4], torch.from_numpy(arrays["train"][0]))
    info = both.info
    assert info.classes[0] == "airplane" and info.num_classes == 10 and info.size == (96, 96)
    assert info.mean == (0.4408, 0.4279, 0.3867) and info.root == str(tmp_path / "stl10_binary")


def test_upright_from_raw_column_major_bytes(tmp_path):
    """The first 96 bytes of an image are its first *column* (MATLAB order), top to bottom."""
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    raw = np.zeros(IMAGE_BYTES, np.uint8)
    raw[:96] = np.arange(96)  # channel 0, column x=0, rows y=0..95
    (folder / "test_X.bin").write_bytes(raw.tobytes())
    (folder / "test_y.bin").write_bytes(bytes([10]))
    source = stl10("test", data_dir=tmp_path)
    image = source.images[0, 0]
    assert image[:, 0].tolist() == list(range(96))  # a vertical gradient in the left column
    assert image[0, 1:].sum() == 0 and image[:, 1:].sum() == 0
    assert source.labels.tolist() == [9]


def test_known_pattern_band_is_on_top(tmp_path):
    write_stl10(tmp_path, n_train=2, n_test=1, n_unlabeled=1)
    images = stl10("train", data_dir=tmp_path).images
    assert (images[:, :, :8, :] == 255).all() and (images[:, :, 8:, :] < 128).all()


def test_truncated_images(tmp_path):
    write_stl10(tmp_path, n_train=2, n_test=1, n_unlabeled=1)
    file = tmp_path / "stl10_binary" / "train_X.bin"
    file.write_bytes(file.read_bytes()[:-7])
    with pytest.raises(SSLKitError, match="truncated") as info:
        stl10("train", data_dir=tmp_path)
    assert str(file) in str(info.value)


def test_label_count_mismatch(tmp_path):
    write_stl10(tmp_path, n_train=3, n_test=1, n_unlabeled=1)
    (tmp_path / "stl10_binary" / "train_y.bin").write_bytes(bytes([1, 2]))
    with pytest.raises(SSLKitError, match="2 labels for 3 images"):
        stl10("train", data_dir=tmp_path)


def test_missing_and_bad_split(tmp_path):
    with pytest.raises(SSLKitError, match="stl10 not found; looked in: .*stl10_binary.tar.gz"):
        stl10(data_dir=tmp_path)
    with pytest.raises(SSLKitError, match="valid splits: train, test, unlabeled, train\\+unlabeled"):
        stl10("val", data_dir=tmp_path)
