"""CIFAR-10/100 from Python-2-style pickle batches, through our restricted unpickler."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from sslkit.data.cifar import cifar10, cifar100, cifar100_coarse_labels, load_batch
from sslkit.errors import SSLKitError
from tests.formats import CIFAR10_CLASSES, write_cifar10, write_cifar100


def test_cifar10_round_trip(tmp_path):
    arrays = write_cifar10(tmp_path, n_train=23, n_test=7)
    for split in ("train", "test"):
        source = cifar10(split, data_dir=tmp_path)
        images, labels = arrays[split]
        assert source.images.shape == (len(images), 3, 32, 32) and source.images.dtype == torch.uint8
        assert torch.equal(source.images, torch.from_numpy(images))
        assert torch.equal(source.labels, torch.from_numpy(labels)) and source.labels.dtype == torch.int64
    info = source.info
    assert info.classes == tuple(CIFAR10_CLASSES) and info.channels == 3 and info.size == (32, 32)
    assert info.mean == (0.4914, 0.4822, 0.4465) and info.std == (0.2470, 0.2435, 0.2616)
    assert info.root == str(tmp_path / "cifar-10-batches-py") and info.split == "test"


def test_cifar10_channel_planes(tmp_path):
    arrays = write_cifar10(tmp_path, n_train=5, n_test=1)
    raw = load_batch(tmp_path / "cifar-10-batches-py" / "test_batch")["data"]
    source = cifar10("test", data_dir=tmp_path)
    assert torch.equal(source.images[0, 1].flatten(), torch.from_numpy(raw[0, 1024:2048]))  # green plane
    assert arrays["test"][0].shape == (1, 3, 32, 32)


def test_cifar100_fine_and_coarse(tmp_path):
    arrays = write_cifar100(tmp_path, n_train=11, n_test=4)
    source = cifar100("train", data_dir=tmp_path / "cifar-100-python")
    images, fine, coarse = arrays["train"]
    assert torch.equal(source.images, torch.from_numpy(images))
    assert torch.equal(source.labels, torch.from_numpy(fine))
    assert torch.equal(cifar100_coarse_labels(source), torch.from_numpy(coarse))
    assert source.info.num_classes == 100 and len(source.coarse_classes) == 20
    assert source.info.mean == (0.5071, 0.4865, 0.4409)
    assert len(cifar100("test", data_dir=tmp_path)) == 4
    with pytest.raises(SSLKitError, match="no coarse labels"):
        cifar100_coarse_labels(_cifar10(tmp_path / "c10"))


def _cifar10(tmp_path: Path):
    write_cifar10(tmp_path, n_train=5, n_test=1)
    return cifar10("test", data_dir=tmp_path)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unsafe_pickle_is_refused_without_running(tmp_path):
    write_cifar10(tmp_path, n_train=5, n_test=1)
    marker = tmp_path / "pwned"
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({"data": _Evil(marker), "labels": [0]}, protocol=2))
    with pytest.raises(SSLKitError, match="refuses") as info:
        cifar10("test", data_dir=tmp_path)
    assert not marker.exists()
    message = str(info.value)
    assert str(batch) in message and ("posix.system" in message or "nt.system" in message)


def test_truncated_batch_is_named(tmp_path):
    write_cifar10(tmp_path, n_train=5, n_test=3)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:200])
    with pytest.raises(SSLKitError, match="truncated or corrupt") as info:
        cifar10("train", data_dir=tmp_path)
    assert str(batch) in str(info.value)


def test_missing_batch_means_not_found(tmp_path):
    write_cifar10(tmp_path, n_train=5, n_test=1)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(SSLKitError, match="cifar10 not found; looked in:.*cifar-10-python.tar.gz"):
        cifar10("train", data_dir=tmp_path)
    assert len(cifar10("test", data_dir=tmp_path)) == 1


def test_download_uses_torchvision_then_our_parser(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    def fake(root, download=False):
        calls.append((root, download))
        write_cifar10(root, n_train=5, n_test=2)

    monkeypatch.setattr(tvd, "CIFAR10", fake)
    assert len(cifar10("test", data_dir=tmp_path, download=True)) == 2
    assert calls == [(str(tmp_path), True)]


def test_download_offline(monkeypatch, isolated_data):
    import torchvision.datasets as tvd

    def offline(root, download=False):
        raise RuntimeError("Error downloading cifar-100-python.tar.gz")

    monkeypatch.setattr(tvd, "CIFAR100", offline)
    with pytest.raises(SSLKitError, match="could not download cifar100 into .*\\.cache/sslkit"):
        cifar100(download=True)


def test_bad_split_and_path(tmp_path):
    with pytest.raises(SSLKitError, match="valid splits"):
        cifar10("val", data_dir=tmp_path)
    with pytest.raises(SSLKitError, match="takes no path"):
        cifar100(path="x")
