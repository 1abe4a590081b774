"""GridShuffle (METHODS.md §1.2c): tiles permuted per sample, albumentations' uneven splits."""

from __future__ import annotations

import pytest
import torch

from sslkit.augment.gridshuffle import GridShuffle, grid_cuts, gridshuffle, shuffle_tiles, tile_groups
from sslkit.errors import SSLKitError


def tiles(image: torch.Tensor, grid: int) -> list[torch.Tensor]:
    """The ``grid * grid`` tiles of one ``(C, H, W)`` image, row-major."""
    ys, xs = grid_cuts(image.shape[-2], grid), grid_cuts(image.shape[-1], grid)
    return [image[:, ys[r]:ys[r + 1], xs[c]:xs[c + 1]] for r in range(grid) for c in range(grid)]


def reference(x: torch.Tensor, source: torch.Tensor, grid: int) -> torch.Tensor:
    """Loop version of albumentations' swap_tiles_on_image: output tile t <- input tile source[t]."""
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        ys, xs = grid_cuts(x.shape[-2], grid), grid_cuts(x.shape[-1], grid)
        for t, s in enumerate(source[b].tolist()):
            r, c, sr, sc = t // grid, t % grid, s // grid, s % grid
            out[b, :, ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = x[b, :, ys[sr]:ys[sr + 1], xs[sc]:xs[sc + 1]]
    return out


def test_cuts_are_albumentations_linspace() -> None:
    assert grid_cuts(28, 4) == [0, 7, 14, 21, 28]
    assert grid_cuts(30, 4) == [0, 7, 15, 22, 30]  # np.linspace(0, 30, 5, dtype=int)
    assert tile_groups(30, 30, 4).view(4, 4).tolist() == [[0, 1, 0, 1], [2, 3, 2, 3], [0, 1, 0, 1], [2, 3, 2, 3]]


@pytest.mark.parametrize(("h", "w", "grid"), [(28, 28, 4), (32, 32, 4), (30, 23, 4), (10, 10, 3)])
def test_tiles_are_permuted_and_match_the_loop_reference(h: int, w: int, grid: int) -> None:
    x = torch.rand(6, 3, h, w, generator=torch.Generator().manual_seed(0))
    op = GridShuffle(grid)
    params = op.sample(x, torch.Generator().manual_seed(1))
    y = op.apply(x, params)
    torch.testing.assert_close(y, reference(x, params["source"], grid), atol=0, rtol=0)
    groups = tile_groups(h, w, grid)
    for b in range(6):
        source = params["source"][b]
        assert sorted(source.tolist()) == list(range(grid * grid))  # a permutation
        assert torch.equal(groups[source], groups)  # tiles only move onto tiles of their shape
        before = sorted(tuple(t.flatten().tolist()) for t in tiles(x[b], grid))
        after = sorted(tuple(t.flatten().tolist()) for t in tiles(y[b], grid))
        assert before == after  # the multiset of tiles is preserved


def test_p0_is_identity_and_p_is_per_sample() -> None:
    x = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(GridShuffle(4, p=0.0)(x, torch.Generator().manual_seed(0)), x, atol=0, rtol=0)
    y = GridShuffle(4, p=0.5)(x, torch.Generator().manual_seed(0))
    unchanged = (y == x).flatten(1).all(dim=1)
    assert 10 < int(unchanged.sum()) < 54


def test_permutations_differ_per_sample_and_cover_every_position() -> None:
    x = torch.zeros(256, 1, 8, 8)
    source = GridShuffle(4).sample(x, torch.Generator().manual_seed(0))["source"]
    assert len({tuple(s) for s in source.tolist()}) == 256  # 16! permutations: all distinct
    assert set(source[:, 0].tolist()) == set(range(16))  # any tile can land in the corner


def test_seeded_determinism_and_identity_source() -> None:
    x = torch.rand(8, 3, 16, 16)
    op = GridShuffle(4)
    a = op(x, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, op(x, torch.Generator().manual_seed(5)), atol=0, rtol=0)
    assert not torch.equal(a, op(x, torch.Generator().manual_seed(6)))
    identity = torch.arange(16).expand(8, 16)
    torch.testing.assert_close(shuffle_tiles(x, identity, 4), x, atol=0, rtol=0)


def test_bad_grids() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        GridShuffle(0)
    with pytest.raises(ValueError, match="at least 5 px"):
        GridShuffle(5)(torch.rand(2, 1, 4, 4))
    with pytest.raises(SSLKitError, match="grid must be an integer"):
        gridshuffle(8, 1, grid=2.5)
    with pytest.raises(SSLKitError, match="grid must be an integer"):
        gridshuffle(8, 1, grid=9)


def test_policy_shuffles_without_cropping() -> None:
    policy = gridshuffle(28, 1, grid=7, p=1)
    assert [type(op) for op in policy.ops] == [GridShuffle] and policy.ops[0].grid == 7
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    y = policy(x, torch.Generator().manual_seed(0))
    assert y.shape == (4, 1, 28, 28)
    assert torch.equal(y.flatten(1).sort(dim=1).values, x.float().div(255).flatten(1).sort(dim=1).values)
