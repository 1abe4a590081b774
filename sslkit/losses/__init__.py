"""Losses as plain functions of tensors, one per file, each tested against its formula."""

from sslkit.losses.negative_cosine import negative_cosine

__all__ = ["negative_cosine"]
