"""torchvision ResNets as sslkit backbones: CIFAR stem for small images, any width, 1 or 3 channels.

The module *is* a ``torchvision.models.ResNet`` (a thin subclass), so its ``state_dict()`` keys are
torchvision's: at width 64 an export loads with ``strict=True`` into a plain
``torchvision.models.resnet18()`` once ``conv1``/``maxpool`` match the recorded stem and
``fc = nn.Identity()``. The three "CIFAR ResNet-18" variants of METHODS.md §0.3 map to:

* torchvision + CIFAR stem (RSA, MoCo demo): ``stem="cifar", stem_padding=1`` (the default <= 64 px);
* solo-learn: ``stem="cifar", stem_padding=2``;
* kuangliu (DSSL CIFAR) computes the same function as the first at 32 px; only its module names
  differ (``shortcut``/``linear``), so its checkpoints need a key mapping.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from sslkit.errors import SSLKitError

CIFAR_STEM_MAX_SIZE = 64
"""Images of at most this many pixels get the CIFAR stem (3x3 stride-1 conv1, no max-pool)."""

_ARCHS: dict[str, tuple[type[BasicBlock | Bottleneck], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}
_STEMS = {"cifar": (3, 1, 1), "imagenet": (7, 2, 3)}  # kernel, stride, default padding


class ResNetBackbone(ResNet):
    """A torchvision ResNet with a configurable stem and base width, returning pooled features.

    Args:
        block: torchvision's ``BasicBlock`` or ``Bottleneck``.
        layers: Blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        in_channels: Input channels (1 for grayscale).
        stem: ``"cifar"`` (3x3 stride-1 conv1, no max-pool) or ``"imagenet"`` (7x7 stride 2 + max-pool).
        stem_padding: Padding of conv1.
        width: Base width (torchvision: 64); stage ``i`` has ``width * 2**i`` planes.
        zero_init_residual: Zero-init the last BN of every residual branch (SimSiam, RSA).
    """

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        *,
        in_channels: int,
        stem: str,
        stem_padding: int,
        width: int,
        zero_init_residual: bool,
    ) -> None:
        self._width = width  # read by _make_layer while ResNet.__init__ runs
        super().__init__(block, layers, zero_init_residual=zero_init_residual)
        kernel, stride, _ = _STEMS[stem]
        self.conv1 = nn.Conv2d(in_channels, width, kernel, stride, stem_padding, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1 = nn.BatchNorm2d(width)
        if stem == "cifar":
            self.maxpool = nn.Identity()
        self.fc = nn.Identity()
        self.num_features = 8 * width * block.expansion

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        if planes == 64:  # torchvision's first stage: its input is conv1's output, `width` channels
            self.inplanes = self._width
        return super()._make_layer(block, planes * self._width // 64, blocks, stride, dilate)

    def forward_features(self, x: Tensor) -> Tensor:
        """Map ``(B, C, H, W)`` images to the last stage's unpooled map ``(B, num_features, h, w)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(B, C, H, W)`` images to pooled features ``(B, num_features)``."""
        return torch.flatten(self.avgpool(self.forward_features(x)), 1)


def _build(
    name: str,
    in_channels: int = 3,
    image_size: int = 224,
    *,
    stem: str | None = None,
    stem_padding: int | None = None,
    width: int = 64,
    zero_init_residual: bool = False,
    **unknown: Any,
) -> ResNetBackbone:
    if unknown:
        raise SSLKitError(
            f"backbone {name!r} got unknown option(s) {sorted(unknown)}; valid: in_channels, image_size, "
            "stem, stem_padding, width, zero_init_residual"
        )
    stem = stem or ("cifar" if image_size <= CIFAR_STEM_MAX_SIZE else "imagenet")
    if stem not in _STEMS:
        raise SSLKitError(f"unknown stem {stem!r} for {name}; use 'cifar' or 'imagenet'")
    if int(width) < 1 or int(in_channels) < 1:
        raise SSLKitError(f"{name}: width and in_channels must be positive (got {width}, {in_channels})")
    padding = _STEMS[stem][2] if stem_padding is None else int(stem_padding)
    block, layers = _ARCHS[name]
    model = ResNetBackbone(
        block,
        layers,
        in_channels=int(in_channels),
        stem=stem,
        stem_padding=padding,
        width=int(width),
        zero_init_residual=bool(zero_init_residual),
    )
    model.sslkit_config = {
        "backbone": name,
        "in_channels": int(in_channels),
        "image_size": int(image_size),
        "stem": stem,
        "stem_padding": padding,
        "width": int(width),
        "zero_init_residual": bool(zero_init_residual),
    }
    return model


def resnet18(in_channels: int = 3, image_size: int = 224, **kwargs: Any) -> ResNetBackbone:
    """ResNet-18 backbone (512 features at width 64); kwargs as in :class:`ResNetBackbone`."""
    return _build("resnet18", in_channels, image_size, **kwargs)


def resnet34(in_channels: int = 3, image_size: int = 224, **kwargs: Any) -> ResNetBackbone:
    """ResNet-34 backbone (512 features at width 64); kwargs as in :class:`ResNetBackbone`."""
    return _build("resnet34", in_channels, image_size, **kwargs)


def resnet50(in_channels: int = 3, image_size: int = 224, **kwargs: Any) -> ResNetBackbone:
    """ResNet-50 backbone (2048 features at width 64); kwargs as in :class:`ResNetBackbone`."""
    return _build("resnet50", in_channels, image_size, **kwargs)
