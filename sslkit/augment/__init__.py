"""sslkit.augment: batched, per-sample augmentation ops and policies (torchvision semantics)."""

from sslkit.augment.allocator import tune_allocator
from sslkit.augment.base import Op, Policy
from sslkit.augment.blur import GaussianBlur
from sslkit.augment.color import ColorJitter, RandomGrayscale, Solarize
from sslkit.augment.geometric import HorizontalFlip, RandomResizedCrop

__all__ = [
    "ColorJitter",
    "GaussianBlur",
    "HorizontalFlip",
    "Op",
    "Policy",
    "RandomGrayscale",
    "RandomResizedCrop",
    "Solarize",
    "tune_allocator",
]
