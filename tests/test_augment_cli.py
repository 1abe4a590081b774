"""`sslkit augment POLICY DATASET`: a picture of original / standard / heavy views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from sslkit.augment.gridshuffle import gridshuffle
from sslkit.augment.policies import simclr
from sslkit.augment.preview import GAP, draw_views, load_images
from sslkit.cli import app
from tests.formats import fake_idx, write_cifar10

runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    fake_idx(folder, n_train=12, n_test=4)  # Fashion-MNIST files: 28x28, 1 channel
    write_cifar10(folder, n_train=10, n_test=4)  # 32x32, 3 channels
    monkeypatch.setenv("HOME", str(tmp_path))  # never read the user's real caches
    return folder


def tile_at(picture: np.ndarray, row: int, column: int, columns: int, side: int) -> np.ndarray:
    """The tile at (row, column); tiles are laid out from the right edge, after the label column."""
    x = picture.shape[1] - (columns - column) * (side + GAP)
    y = GAP + row * (side + GAP)
    return picture[y:y + side, x:x + side]


@pytest.mark.parametrize(("dataset", "channels", "side", "shown"), [("fashion-mnist", 1, 28, 84),
                                                                      ("cifar10", 3, 32, 96)])
def test_writes_a_grid_of_enlarged_views(tmp_path, data, dataset, channels, side, shown) -> None:
    out = tmp_path / "pictures" / "views.png"
    result = runner.invoke(app, ["augment", "gridshuffle:grid=2", dataset, "--data-dir", str(data),
                                 "--out", str(out), "--n", "3", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    picture = np.asarray(Image.open(out).convert("RGB"))
    assert picture.shape[0] == GAP + 3 * (shown + GAP)  # three rows of ~96-px tiles
    assert picture.shape[1] > 3 * (shown + GAP) + 60  # tiles plus a label column
    originals = load_images(dataset, 3, data_dir=data, seed=4)  # the images the command picked
    assert originals.shape == (3, channels, side, side)
    for j in range(3):
        expected = originals[j].permute(1, 2, 0).repeat_interleave(shown // side, 0).repeat_interleave(
            shown // side, 1).expand(shown, shown, 3).numpy()
        np.testing.assert_array_equal(tile_at(picture, 0, j, 3, shown), expected)  # nearest, exact
    label = picture[:, : picture.shape[1] - 3 * (shown + GAP)]
    assert (label < 128).any()  # the row labels are drawn


def test_heavy_row_is_derived_from_the_standard_row() -> None:
    images = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    standard = simclr(8, 1, gray_p=0)
    picture = np.asarray(draw_views(images, standard, gridshuffle(8, 1, grid=2), standard_label="simclr",
                                    heavy_label="gridshuffle:grid=2", seed=0, tile=8))
    for j in range(2):
        std = tile_at(picture, 1, j, 2, 8)[..., 0]
        heavy = tile_at(picture, 2, j, 2, 8)[..., 0]
        assert sorted(std.flatten().tolist()) == sorted(heavy.flatten().tolist())  # same pixels, moved


@pytest.mark.parametrize(("args", "message"), [
    (["augment", "randaugment-dsl", "fashion-mnist"], "did you mean 'randaugment-dssl'"),
    (["augment", "gridshuffle:grd=4", "fashion-mnist"], "valid keys: grid, p"),
    (["augment", "gridshuffle", "fashion-mnist", "--standard", "simclr:jitter_p=2"], "probability"),
    (["augment", "gridshuffle", "fashion-mnist", "--n", "0"], "--n must be at least 1"),
    (["augment", "gridshuffle", "fashion-mnist", "--out", "views.nothing"], "unknown image file extension"),
])
def test_user_errors_are_one_red_line_with_exit_code_2(data, args, message) -> None:
    result = runner.invoke(app, args + ["--data-dir", str(data)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_standard_none_draws_the_policy_on_the_originals(tmp_path, data) -> None:
    out = tmp_path / "views.png"
    result = runner.invoke(app, ["augment", "gridshuffle:p=0", "fashion-mnist", "--standard", "none",
                                 "--data-dir", str(data), "--out", str(out), "--n", "2"])
    assert result.exit_code == 0, result.output
    assert "rows: original, heavy: gridshuffle:p=0" in result.output
    picture = np.asarray(Image.open(out).convert("RGB"))
    assert picture.shape[0] == GAP + 2 * (84 + GAP)  # two rows
    for j in range(2):  # p=0: the heavy row is the original row
        np.testing.assert_array_equal(tile_at(picture, 1, j, 2, 84), tile_at(picture, 0, j, 2, 84))
