"""Inside `batch_shard`, N processes draw exactly the augmentations one process draws for the global batch."""

from __future__ import annotations

import pytest
import torch

from sslkit import _registry
from sslkit.augment._random import batch_shard, rand, randint


@pytest.mark.parametrize("policy", sorted(_registry.names("augmentations")))
def test_shards_of_a_global_batch_get_the_single_process_views(policy: str) -> None:
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    build = _registry.load("augmentations", policy)
    whole = build(32, 3)(images, torch.Generator().manual_seed(7))
    parts = []
    for offset in (0, 2, 4):  # three processes of 2 images each, every one seeded alike
        with batch_shard(offset, 6):
            parts.append(build(32, 3)(images[offset:offset + 2], torch.Generator().manual_seed(7)))
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-6)


def test_draws_outside_a_shard_are_unchanged_and_batch_dim_is_respected() -> None:
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    assert torch.equal(rand(3, 2, generator=g()), torch.rand(3, 2, generator=g()))
    with batch_shard(1, 4):
        part = rand(2, 2, 5, generator=g(), batch_dim=1)
        ints = randint(1, 9, (2, 3), generator=g())
    assert torch.equal(part, torch.rand(2, 4, 5, generator=g())[:, 1:3])
    assert torch.equal(ints, torch.randint(1, 9, (4, 3), generator=g())[1:3])
    with batch_shard(3, 4), pytest.raises(ValueError, match="exceeds the global batch"):
        rand(2, generator=g())
