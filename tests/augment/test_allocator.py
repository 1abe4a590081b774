"""tune_allocator is safe to call and reports whether it applied."""

from __future__ import annotations

import sys

from sslkit.augment.allocator import tune_allocator


def test_tune_allocator_returns_bool() -> None:
    applied = tune_allocator(threshold_mb=256)
    assert isinstance(applied, bool)
    if not sys.platform.startswith("linux"):
        assert applied is False
