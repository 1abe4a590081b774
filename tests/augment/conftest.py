"""Shared fixtures for the augmentation tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(params=[1, 3], ids=["C1", "C3"])
def batch(request: pytest.FixtureRequest) -> torch.Tensor:
    """A float batch in [0, 1] with some exact 0/1 and quantised values (ties), C = 1 or 3."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randint(0, 256, (24, request.param, 20, 20), generator=g).float().div_(255)
    x[0] = 0.0
    x[1] = 1.0
    return x
