"""sslkit: self-supervised visual representation learning from heavy augmentations."""

__version__ = "0.1.0"
