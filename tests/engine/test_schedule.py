"""Warm-up + cosine learning-rate multiplier."""

from __future__ import annotations

import math

import pytest

from sslkit.engine.schedule import warmup_cosine


def test_warmup_is_linear_then_cosine_to_min() -> None:
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, min_ratio=0.01) == pytest.approx(0.01)


def test_no_warmup_is_plain_cosine() -> None:
    for step in (0, 25, 50, 75):
        assert warmup_cosine(step, 100, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * step / 100)))
