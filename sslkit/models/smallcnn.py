"""A small 4-stage CNN: the CPU-friendly backbone for quick runs and tests.

Four stages of Conv3x3-BN-ReLU blocks with widths ``w, 2w, 4w, 8w``; every stage but the first
halves the resolution (the first too for images larger than 64 px), then global average pooling.
At ``width=16`` it has 97k parameters (DESIGN.md §7).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from sslkit.errors import SSLKitError

_SMALL_IMAGE_MAX_SIZE = 64


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Conv-BN-ReLU stages with widths ``width * (1, 2, 4, 8)``, returning pooled features.

    Args:
        in_channels: Input channels (1 for grayscale).
        width: Channels of the first stage.
        depths: Conv-BN-ReLU blocks per stage (4 numbers).
        first_stride: Stride of the first stage (1 for small images, 2 for large ones).
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 32,
        depths: Sequence[int] = (1, 1, 1, 1),
        first_stride: int = 1,
    ) -> None:
        super().__init__()
        stages, prev = [], in_channels
        for i, depth in enumerate(depths):
            out = width * 2**i
            blocks = []
            for j in range(depth):
                stride = (first_stride if i == 0 else 2) if j == 0 else 1
                blocks.append(_conv_bn_relu(prev, out, stride))
                prev = out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = prev
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        """Map ``(B, C, H, W)`` images to the last stage's unpooled map ``(B, num_features, h, w)``."""
        return self.stages(x)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, C, H, W)`` images to pooled features ``(B, num_features)``."""
        return torch.flatten(self.pool(self.stages(x)), 1)


def smallcnn(
    in_channels: int = 3,
    image_size: int = 224,
    *,
    width: int = 32,
    depths: Sequence[int] = (1, 1, 1, 1),
    first_stride: int | None = None,
    **unknown: Any,
) -> SmallCNN:
    """Build a :class:`SmallCNN`; ``first_stride`` defaults to 1 up to 64 px and 2 above."""
    if unknown:
        raise SSLKitError(
            f"backbone 'smallcnn' got unknown option(s) {sorted(unknown)}; valid: in_channels, "
            "image_size, width, depths, first_stride"
        )
    depths = [int(d) for d in depths]
    if len(depths) != 4 or min(depths) < 1 or int(width) < 1:
        raise SSLKitError(f"smallcnn needs 4 positive depths and a positive width (got {depths}, {width})")
    if first_stride is None:
        first_stride = 1 if image_size <= _SMALL_IMAGE_MAX_SIZE else 2
    model = SmallCNN(int(in_channels), int(width), depths, int(first_stride))
    model.sslkit_config = {
        "backbone": "smallcnn",
        "in_channels": int(in_channels),
        "image_size": int(image_size),
        "width": int(width),
        "depths": depths,
        "first_stride": int(first_stride),
    }
    return model
