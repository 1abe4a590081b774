"""Hugging Face datasets: save_to_disk folders, parquet files, column detection, offline Hub names."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from sslkit.data import hf as hf_module
from sslkit.data.hf import hf
from sslkit.errors import SSLKitError
from tests.formats import write_hf_saved


@pytest.fixture(autouse=True)
def quiet_datasets():
    datasets.disable_progress_bars()


def test_saved_dataset_dict_round_trip(tmp_path):
    arrays = write_hf_saved(tmp_path / "saved", n_train=5, n_test=3, size=(9, 7))
    for split in ("train", "test"):
        source = hf(split, path=str(tmp_path / "saved"))
        images, labels = arrays[split]
        assert source.images is None and source.info.size is None and source.info.channels == 3
        assert torch.equal(source.labels, torch.from_numpy(labels))
        assert source.info.classes == ("a", "b", "c") and source.info.split == split
        for i in range(len(source)):
            image = source.loader(i)
            assert image.dtype == torch.uint8 and torch.equal(image, torch.from_numpy(images[i]))


def test_test_falls_back_to_validation(tmp_path):
    write_hf_saved(tmp_path / "saved", n_test=2, test_name="validation")
    assert len(hf("test", path=str(tmp_path / "saved"))) == 2
    with pytest.raises(SSLKitError, match="valid splits: test, train, validation"):
        hf("unlabeled", path=str(tmp_path / "saved"))


def test_grayscale_gives_one_channel(tmp_path):
    arrays = write_hf_saved(tmp_path / "gray", mode="L", size=(5, 6))
    source = hf(path=str(tmp_path / "gray"))
    assert source.info.channels == 1
    assert torch.equal(source.loader(0), torch.from_numpy(arrays["train"][0][0]))


def _plain_dataset(n: int = 4, with_label: bool = True, image_name: str = "img") -> datasets.Dataset:
    images = [Image.fromarray(np.full((4, 4, 3), i * 10, np.uint8)) for i in range(n)]
    columns = {image_name: images}
    if with_label:
        columns["labels"] = [i % 2 for i in range(n)]
    return datasets.Dataset.from_dict(columns).cast_column(image_name, datasets.Image())


def test_single_saved_dataset_without_label_column(tmp_path):
    _plain_dataset(with_label=False).save_to_disk(str(tmp_path / "one"))
    source = hf(path=str(tmp_path / "one"))
    assert source.labels.tolist() == [-1] * 4 and source.info.classes == ()
    assert int(source.loader(3)[0, 0, 0]) == 30
    with pytest.raises(SSLKitError, match="no 'test' split"):
        hf("test", path=str(tmp_path / "one"))


def test_parquet_folder_and_glob(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    _plain_dataset(6).to_parquet(str(folder / "train-00000.parquet"))
    _plain_dataset(2).to_parquet(str(folder / "test-00000.parquet"))
    train, test = hf("train", path=str(folder)), hf("test", path=str(folder))
    assert len(train) == 6 and len(test) == 2
    assert train.labels.tolist() == [0, 1, 0, 1, 0, 1] and train.info.classes == ("0", "1")
    assert train.loader(5).shape == (3, 4, 4) and int(train.loader(5)[0, 0, 0]) == 50
    assert len(hf(path=str(folder / "test-*.parquet"))) == 2


def test_no_image_column(tmp_path):
    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(str(tmp_path / "text"))
    with pytest.raises(SSLKitError, match="no image column \\(columns: text\\)"):
        hf(path=str(tmp_path / "text"))


def test_hub_name_offline_is_one_line(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'user/name' on the Hub (LocalEntryNotFoundError)\nmore")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SSLKitError, match="cannot load Hugging Face dataset 'user/name'") as info:
        hf(path="user/name")
    assert "\n" not in str(info.value)


def test_path_required_and_not_a_dataset(tmp_path):
    with pytest.raises(SSLKitError, match="hf needs a dataset"):
        hf()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    with pytest.raises(SSLKitError, match="neither a save_to_disk folder"):
        hf(path=str(tmp_path / "junk"))
    assert hf_module.LABEL_NAMES[0] == "label"
