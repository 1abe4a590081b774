"""Grid shuffle: cut each image into a g x g grid of tiles and permute the tiles, per sample.

METHODS.md §1.2c: DSSL's ImageNet heavy view uses albumentations' ``RandomGridShuffle`` with a 4 x 4
grid (DSSL@simsiam_imagenet/augmentations/simsiam_aug.py). This is a batched version with the same
semantics, including sides that ``g`` does not divide: the cut points are albumentations'
``np.linspace(0, side, g + 1, dtype=int)`` (computed exactly as ``i * side // g``), so tiles differ
by at most one pixel per axis, and a tile only moves to a place occupied by a tile of the same
shape (albumentations permutes each group of equal-shaped tiles separately). Every pixel of the
output comes from the input, so the multiset of tiles is preserved.
"""

from __future__ import annotations

from typing import Any

import torch

from sslkit.augment._random import bernoulli, check_probability, rand
from sslkit.augment.base import Op, Policy
from sslkit.augment.policies import _build, _check, _resolve
from sslkit.errors import SSLKitError


def grid_cuts(side: int, grid: int) -> list[int]:
    """Tile boundaries ``[0, ..., side]`` (``grid + 1`` values): albumentations' linspace split."""
    return [i * side // grid for i in range(grid + 1)]


def tile_groups(h: int, w: int, grid: int) -> torch.Tensor:
    """Group id of each of the ``grid * grid`` tiles (row-major): equal ids have equal shapes."""
    ys, xs = grid_cuts(h, grid), grid_cuts(w, grid)
    shapes = [(ys[r + 1] - ys[r], xs[c + 1] - xs[c]) for r in range(grid) for c in range(grid)]
    ids = {shape: i for i, shape in enumerate(sorted(set(shapes)))}
    return torch.tensor([ids[s] for s in shapes])


def shuffle_tiles(x: torch.Tensor, source: torch.Tensor, grid: int) -> torch.Tensor:
    """Move tiles: output tile ``t`` of sample ``b`` is input tile ``source[b, t]``.

    Args:
        x: ``(B, C, H, W)`` batch.
        source: ``(B, grid * grid)`` int64 tile indices (row-major); each row must map every tile
            to one of the same shape (a permutation within the groups of :func:`tile_groups`).
        grid: Tiles per side.

    Returns:
        The batch with its tiles rearranged (one gather over ``H * W`` pixel indices).
    """
    b, c, h, w = x.shape
    dev = x.device
    ys = torch.tensor(grid_cuts(h, grid), device=dev)
    xs = torch.tensor(grid_cuts(w, grid), device=dev)
    row = torch.bucketize(torch.arange(h, device=dev), ys[1:], right=True)  # (H,) tile row of each pixel row
    col = torch.bucketize(torch.arange(w, device=dev), xs[1:], right=True)  # (W,)
    tile = (row[:, None] * grid + col[None, :]).flatten()  # (H*W,) destination tile of each pixel
    # Per (sample, tile): the flat offset from the destination tile's corner to the source tile's.
    source = source.to(dev)
    dest = torch.arange(grid * grid, device=dev)
    shift = (ys[source // grid] - ys[dest // grid]) * w + (xs[source % grid] - xs[dest % grid])  # (B, T)
    index = shift[:, tile] + torch.arange(h * w, device=dev)  # (B, H*W) source pixel of each pixel
    index = index.view(b, 1, h * w).expand(b, c, h * w)
    return x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)


class GridShuffle(Op):
    """Split into ``grid x grid`` tiles and permute them, one random permutation per sample.

    Args:
        grid: Tiles per side (4 in DSSL, METHODS.md §1.2c).
        p: Probability of shuffling a sample (the others are returned unchanged).
    """

    def __init__(self, grid: int = 4, p: float = 1.0) -> None:
        if isinstance(grid, bool) or int(grid) != grid or grid < 1:
            raise ValueError(f"grid must be a positive integer, got {grid}")
        self.grid = int(grid)
        self.p = check_probability("p", p)

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``source`` (int64 ``(B, grid * grid)``): the input tile shown at each output tile."""
        b, _, h, w = x.shape
        if self.grid > min(h, w):
            raise ValueError(f"a {self.grid}x{self.grid} grid needs images of at least {self.grid} px "
                             f"per side, got {h}x{w}")
        n = self.grid * self.grid
        groups = tile_groups(h, w, self.grid)  # (T,)
        # Sorting by (group, key) lists each group's tiles together: in tile order for the
        # identity keys, in a random order for uniform keys. Matching the two lists position by
        # position is a uniform random permutation within every group.
        slots = torch.argsort(groups * n + torch.arange(n))  # (T,)
        keys = rand(b, n, generator=generator)
        order = torch.argsort(groups[None, :] + keys, dim=1)  # (B, T), keys in [0, 1)
        source = torch.empty(b, n, dtype=torch.int64).scatter_(1, slots.expand(b, n), order)
        apply = bernoulli(b, self.p, generator, torch.device("cpu"))
        source = torch.where(apply[:, None], source, torch.arange(n)[None, :])
        return {"source": source.to(x.device)}

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Rearrange every sample's tiles as ``params["source"]`` says."""
        return shuffle_tiles(x, params["source"], self.grid)


def gridshuffle(size: int, channels: int, **kwargs: Any) -> Policy:
    """Grid shuffle alone: permute the tiles of a g x g grid (no crop; output size = input size).

    Source: METHODS.md §1.2c (albumentations ``RandomGridShuffle``, ``grid=(4, 4)`` in DSSL).

    Args:
        size: Output side in pixels (inputs of another side are resized to it afterwards).
        channels: 1 or 3.
        **kwargs: Any of ``grid`` (4 tiles per side), ``p`` (1.0, probability per sample).

    Returns:
        The policy.

    Raises:
        SSLKitError: Unknown key, non-numeric value or out-of-range value.
    """
    _check("gridshuffle", size, channels)
    o = _resolve("gridshuffle", {"grid": 4, "p": 1.0}, kwargs)
    if o["grid"] != int(o["grid"]) or not 1 <= o["grid"] <= size:
        raise SSLKitError(f"augmentation policy 'gridshuffle': grid must be an integer in [1, {size}] "
                          f"(the image side), got {o['grid']}")
    return Policy("gridshuffle", _build("gridshuffle", lambda: [GridShuffle(int(o["grid"]), o["p"])]), size)
