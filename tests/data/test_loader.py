"""BatchLoader: deterministic order, rank sharding, exact resume, drop_last, resizing, lazy decoding."""

from __future__ import annotations

import pytest
import torch

from sslkit.data.base import DatasetInfo, Source
from sslkit.data.imagefolder import imagefolder
from sslkit.data.loader import BatchLoader, resize_center_crop
from sslkit.errors import SSLKitError
from tests.formats import write_imagefolder


def _source(n: int = 50, size: int = 4) -> Source:
    """Image i is filled with the value i (mod 256) so batches can be traced back to indices."""
    images = (torch.arange(n) % 256).to(torch.uint8).view(n, 1, 1, 1).expand(n, 1, size, size).contiguous()
    info = DatasetInfo("toy", "train", ("a",), 1, (size, size), (0.5,), (0.5,))
    return Source(info=info, labels=torch.arange(n), images=images)


def _collect(loader: BatchLoader, epoch: int, start: int = 0) -> list[torch.Tensor]:
    return [labels for _, labels in loader.epoch(epoch, start)]


def test_shapes_and_pairing():
    loader = BatchLoader(_source(), 8)
    assert len(loader) == 6
    for images, labels in loader.epoch(0):
        assert images.dtype == torch.uint8 and images.shape == (8, 1, 4, 4) and labels.dtype == torch.int64
        assert torch.equal(images[:, 0, 0, 0].long(), labels)


def test_deterministic_and_epoch_dependent():
    a, b = BatchLoader(_source(), 8, seed=3), BatchLoader(_source(), 8, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(_collect(a, 1), _collect(b, 1), strict=True))
    assert not torch.equal(torch.cat(_collect(a, 1)), torch.cat(_collect(a, 2)))
    expected = torch.randperm(50, generator=torch.Generator().manual_seed(3 * 1_000_003 + 1))[:48]
    assert torch.equal(torch.cat(_collect(a, 1)), expected)
    assert torch.equal(torch.cat(_collect(BatchLoader(_source(), 8, shuffle=False), 0)), torch.arange(48))


@pytest.mark.parametrize("drop_last", [True, False])
def test_rank_shards_equal_the_one_process_global_batch(drop_last):
    world, per_rank = 3, 4
    single = _collect(BatchLoader(_source(), per_rank * world, drop_last=drop_last, seed=7), 2)
    ranks = [_collect(BatchLoader(_source(), per_rank, drop_last=drop_last, seed=7, rank=r,
                                  world_size=world), 2) for r in range(world)]
    for r, batches in enumerate(ranks):
        assert len(batches) == len(BatchLoader(_source(), per_rank, drop_last=drop_last, rank=r,
                                               world_size=world))
    for g, global_batch in enumerate(single):
        parts = [ranks[r][g] for r in range(world) if g < len(ranks[r])]
        assert torch.equal(torch.cat(parts), global_batch)
    # 50 images, global batch 12: 4 full batches, then 2 left for rank 0 only
    assert [len(b) for b in ranks[0]] == ([4] * 4 if drop_last else [4] * 4 + [2])
    assert [len(b) for b in ranks[2]] == [4] * 4


def test_start_batch_resumes_exactly():
    loader = BatchLoader(_source(), 6, seed=1, rank=1, world_size=2)
    full = _collect(loader, 5)
    for start in (0, 1, 3, len(full)):
        tail = _collect(loader, 5, start)
        assert len(tail) == len(full) - start
        assert all(torch.equal(x, y) for x, y in zip(tail, full[start:], strict=True))


def test_drop_last_and_too_large_batch():
    assert len(BatchLoader(_source(50), 16)) == 3
    assert len(BatchLoader(_source(50), 16, drop_last=False)) == 4
    assert sum(len(b) for b in _collect(BatchLoader(_source(50), 16, drop_last=False), 0)) == 50
    with pytest.raises(SSLKitError, match="batch size 64 is larger than the dataset \\(50 images\\); lower"):
        BatchLoader(_source(50), 64)
    with pytest.raises(SSLKitError, match="batch size 60 \\(30 x 2 processes\\)"):
        BatchLoader(_source(50), 30, world_size=2)
    assert len(BatchLoader(_source(50), 64, drop_last=False)) == 1


def test_in_memory_resize_is_done_once():
    source = _source(10, size=8)
    loader = BatchLoader(source, 5, image_size=4)
    images, labels = next(loader.epoch(0))
    assert images.shape == (5, 1, 4, 4) and images.dtype == torch.uint8
    assert torch.equal(images[:, 0, 0, 0].long(), labels)  # constant images stay constant
    assert loader._images.shape == (10, 1, 4, 4)


def test_resize_center_crop():
    image = torch.zeros(1, 3, 20, 40, dtype=torch.uint8)
    image[..., 10:30] = 200  # the central 20 columns
    out = resize_center_crop(image, 10)
    assert out.shape == (1, 3, 10, 10) and out.dtype == torch.uint8
    assert (out[..., 1:-1] == 200).all() and (out[..., [0, -1]] > 100).all()  # antialiasing blurs the edge
    same = torch.randint(0, 256, (2, 3, 10, 10), dtype=torch.uint8)
    assert resize_center_crop(same, 10) is same


@pytest.mark.parametrize("workers", [0, 2])
def test_lazy_source_through_workers(tmp_path, workers):
    write_imagefolder(tmp_path, classes=("a", "b"), per_class=5, size=(12, 18))
    source = imagefolder(path=str(tmp_path))
    with pytest.raises(SSLKitError, match="--image-size"):
        BatchLoader(source, 2)
    loader = BatchLoader(source, 3, image_size=8, seed=2, num_workers=workers)
    batches = list(loader.epoch(0))
    assert len(batches) == len(loader) == 3
    for images, labels in batches:
        assert images.shape == (3, 3, 8, 8) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    order = loader.order(0)[:9]
    assert torch.equal(torch.cat([labels for _, labels in batches]), source.labels[order])
    first = resize_center_crop(source.loader(int(order[0])).unsqueeze(0), 8)[0]
    assert torch.equal(batches[0][0][0], first)
    tail = list(loader.epoch(0, start_batch=2))
    assert len(tail) == 1 and torch.equal(tail[0][0], batches[2][0])


def test_corrupt_image_in_worker_is_one_line(tmp_path):
    files = write_imagefolder(tmp_path, classes=("a",), per_class=4)[""]
    whole = files[-1][0].read_bytes()
    files[-1][0].rename(tmp_path / "a" / "bad.png")
    (tmp_path / "a" / "bad.png").write_bytes(whole[: len(whole) // 2])  # header intact: decoding fails
    loader = BatchLoader(imagefolder(path=str(tmp_path)), 4, image_size=8, num_workers=1)
    with pytest.raises(SSLKitError) as info:
        list(loader.epoch(0))
    assert "\n" not in str(info.value) and "bad.png" in str(info.value)
    assert str(info.value).startswith("cannot decode image")
