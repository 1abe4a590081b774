"""Fashion-MNIST / MNIST: our IDX parser on files written in the official format."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from sslkit.data import _find, idx
from sslkit.data.idx import fashion_mnist, mnist, read_idx
from sslkit.errors import SSLKitError
from tests.formats import fake_idx, write_idx_file

REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("factory", [fashion_mnist, mnist])
def test_round_trip(tmp_path, factory, gz):
    arrays = fake_idx(tmp_path, n_train=12, n_test=5, gz=gz)
    for split in ("train", "test"):
        source = factory(split, data_dir=tmp_path)
        images, labels = arrays[split]
        assert source.images.dtype == torch.uint8 and source.images.shape == (len(images), 1, 28, 28)
        assert source.labels.dtype == torch.int64
        assert torch.equal(source.images, torch.from_numpy(images))
        assert torch.equal(source.labels, torch.from_numpy(labels))
        assert source.info.split == split and source.info.channels == 1 and source.info.size == (28, 28)
        assert source.info.num_classes == 10 and source.info.root == str(tmp_path)


def test_metadata(tmp_path):
    fake_idx(tmp_path / "fashion-mnist")
    info = fashion_mnist(data_dir=tmp_path).info
    assert info.root == str(tmp_path / "fashion-mnist")
    assert info.classes[0] == "T-shirt/top" and info.classes[9] == "Ankle boot"
    assert (info.mean, info.std) == ((0.2860,), (0.3530,))
    fake_idx(tmp_path / "MNIST" / "raw")
    assert mnist(data_dir=tmp_path).info.mean == (0.1307,)


def test_read_idx_other_dtypes(tmp_path):
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    file = tmp_path / "ints-idx2"
    file.write_bytes(bytes([0, 0, 0x0C, 2]) + np.array([2, 3], ">u4").tobytes() + values.tobytes())
    assert np.array_equal(read_idx(file), values)


def test_bad_magic(tmp_path):
    file = tmp_path / "x"
    file.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(SSLKitError, match=f"{file} is not an IDX file"):
        read_idx(file)


def test_truncated_file_is_named(tmp_path):
    fake_idx(tmp_path, gz=False)
    file = tmp_path / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(SSLKitError, match="truncated") as info:
        fashion_mnist(data_dir=tmp_path)
    assert str(file) in str(info.value) and "\n" not in str(info.value)


def test_truncated_gzip_is_named(tmp_path):
    fake_idx(tmp_path)
    file = tmp_path / "train-labels-idx1-ubyte.gz"
    file.write_bytes(file.read_bytes()[:-12])
    with pytest.raises(SSLKitError, match=str(file)):
        fashion_mnist(data_dir=tmp_path)


def test_labels_that_do_not_match_images(tmp_path):
    fake_idx(tmp_path, n_train=6)
    write_idx_file(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(SSLKitError, match="do not belong together"):
        mnist(data_dir=tmp_path)


def test_missing_dataset_message(tmp_path):
    with pytest.raises(SSLKitError) as info:
        fashion_mnist(data_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("fashion-mnist not found; looked in: ") and str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message and "\n" not in message


def test_bad_split_and_path(tmp_path):
    with pytest.raises(SSLKitError, match="valid splits: train, test"):
        mnist("unlabeled", data_dir=tmp_path)
    with pytest.raises(SSLKitError, match="takes no path"):
        mnist(path="/x")


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tvd, "FashionMNIST", offline)
    with pytest.raises(SSLKitError, match="could not download fashion-mnist"):
        fashion_mnist(data_dir=tmp_path, download=True)


def test_download_then_parse_with_our_parser(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def fake_download(root, train=True, download=False):
        fake_idx(Path(root) / "FashionMNIST" / "raw", n_train=3, n_test=2)

    monkeypatch.setattr(tvd, "FashionMNIST", fake_download)
    assert len(fashion_mnist("test", data_dir=tmp_path, download=True)) == 2


def test_system_package_location(tmp_path, monkeypatch):
    fake_idx(tmp_path / "fashion-mnist", n_train=4)
    monkeypatch.setattr(_find, "SYSTEM_DIRS", [str(tmp_path)])
    assert len(idx.fashion_mnist()) == 4


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte.gz").is_file(),
                    reason="apt package dataset-fashion-mnist not installed")
def test_real_debian_fashion_mnist(monkeypatch):
    monkeypatch.setattr(_find, "SYSTEM_DIRS", ["/usr/share/datasets"])
    train, test = fashion_mnist("train"), fashion_mnist("test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.info.root == str(REAL)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert train.labels[:5].tolist() == [9, 0, 0, 3, 0]  # the published first labels
    mean = train.images.float().mean().item() / 255
    assert abs(mean - 0.2860) < 1e-3
    with gzip.open(REAL / "t10k-labels-idx1-ubyte.gz") as f:
        assert os.fspath(REAL) and f.read(4) == b"\x00\x00\x08\x01"
