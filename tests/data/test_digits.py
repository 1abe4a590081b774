"""scikit-learn's bundled digits: always available, deterministic split."""

from __future__ import annotations

import pytest
import torch

from sslkit.data.digits import TRAIN_SIZE, digits
from sslkit.errors import SSLKitError


def test_digits_splits():
    train, test = digits("train"), digits("test")
    assert train.images.shape == (TRAIN_SIZE, 1, 8, 8) and test.images.shape == (1797 - TRAIN_SIZE, 1, 8, 8)
    assert train.images.dtype == torch.uint8 and int(train.images.max()) == 255
    assert set(test.labels.tolist()) == set(range(10))
    assert train.info.size == (8, 8) and train.info.channels == 1 and train.info.root == ""
    assert 0 < train.info.mean[0] < 1 and 0 < train.info.std[0] < 1


def test_digits_is_deterministic_and_scaled():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    source = digits("test")
    assert torch.equal(source.labels, torch.from_numpy(bunch.target[TRAIN_SIZE:]).long())
    expected = torch.from_numpy(bunch.images[TRAIN_SIZE]).mul(255 / 16).round().to(torch.uint8)
    assert torch.equal(source.images[0, 0], expected)


def test_digits_errors():
    with pytest.raises(SSLKitError, match="valid splits"):
        digits("unlabeled")
    with pytest.raises(SSLKitError, match="takes no path"):
        digits(path="x")
