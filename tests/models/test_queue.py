"""MemoryQueue: FIFO order, wrap-around, normalised init, checkpointed state."""

from __future__ import annotations

import pytest
import torch

from sslkit.models.queue import MemoryQueue


def test_init_is_unit_norm_and_in_state_dict() -> None:
    queue = MemoryQueue(dim=8, size=6)
    assert torch.allclose(queue.read().norm(dim=1), torch.ones(6))
    assert set(queue.state_dict()) == {"keys", "pointer"}


def test_fifo_with_wrap_around() -> None:
    queue = MemoryQueue(dim=2, size=4)
    batches = [torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 1.0], [-1.0, 0.0]]),
               torch.tensor([[0.0, -2.0], [3.0, 0.0]])]
    for keys in batches:
        queue.enqueue(keys)
    expected = torch.nn.functional.normalize(torch.cat([batches[2], batches[1]]), dim=1)
    assert torch.allclose(queue.read(), expected)  # the oldest batch was replaced first
    assert int(queue.pointer) == 2


def test_batch_must_divide_the_queue() -> None:
    with pytest.raises(ValueError, match="not a multiple"):
        MemoryQueue(dim=2, size=5).enqueue(torch.ones(2, 2))


def test_a_loaded_state_continues_where_it_left_off() -> None:
    source = MemoryQueue(dim=2, size=4)
    source.enqueue(torch.ones(2, 2))
    queue = MemoryQueue(dim=2, size=4)
    queue.enqueue(torch.ones(2, 2))  # its own host pointer is now 2 ...
    queue.enqueue(torch.ones(2, 2))  # ... and wraps to 0
    queue.load_state_dict(source.state_dict())  # the loaded pointer (2) wins
    queue.enqueue(torch.zeros(2, 2) + torch.tensor([1.0, -1.0]))
    assert int(queue.pointer) == 0
    assert torch.allclose(queue.read()[2:], torch.nn.functional.normalize(torch.tensor([[1.0, -1.0]] * 2), dim=1))
