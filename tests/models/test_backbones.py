"""Every registered backbone: shapes, stems, config round trip, torchvision key names."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision

from sslkit import _registry
from sslkit.errors import SSLKitError
from sslkit.models import resnet18, resnet50, smallcnn

BACKBONES = _registry.names("backbones")


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [28, 96])
def test_backbone_shapes(name: str, channels: int, size: int) -> None:
    factory = _registry.load("backbones", name)
    model = factory(in_channels=channels, image_size=size).eval()
    x = torch.randn(1, channels, size, size)
    with torch.no_grad():
        features, fmap = model(x), model.forward_features(x)
    assert features.shape == (1, model.num_features)
    assert fmap.ndim == 4 and fmap.shape[:2] == (1, model.num_features)
    assert torch.allclose(fmap.mean((2, 3)), features, atol=1e-5)
    config = json.loads(json.dumps(model.sslkit_config))  # JSON-serialisable
    assert config["backbone"] == name and config["in_channels"] == channels
    with torch.device("meta"):  # keys and shapes only: cheap
        rebuilt = factory(**{k: v for k, v in config.items() if k != "backbone"})
    assert rebuilt.sslkit_config == model.sslkit_config
    rebuilt.load_state_dict(model.state_dict(), strict=True, assign=True)


@pytest.mark.parametrize(
    ("size", "stem"), [(28, "cifar"), (64, "cifar"), (65, "imagenet"), (224, "imagenet")]
)
def test_cifar_stem_auto(size: int, stem: str) -> None:
    model = resnet18(3, size, width=16)
    assert model.sslkit_config["stem"] == stem
    assert model.conv1.kernel_size == ((3, 3) if stem == "cifar" else (7, 7))
    assert isinstance(model.maxpool, torch.nn.Identity) == (stem == "cifar")


def test_stem_overrides() -> None:
    model = resnet18(1, 32, stem="imagenet", width=16)
    assert model.conv1.kernel_size == (7, 7) and model.conv1.in_channels == 1
    model = resnet18(3, 224, stem="cifar", stem_padding=2, width=16)
    assert model.conv1.padding == (2, 2) and isinstance(model.maxpool, torch.nn.Identity)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 128)
    with pytest.raises(SSLKitError, match="stem"):
        resnet18(stem="tiny")
    with pytest.raises(SSLKitError, match="unknown option"):
        resnet18(widht=16)


@pytest.mark.parametrize(
    ("factory", "reference"),
    [(resnet18, torchvision.models.resnet18), (resnet50, torchvision.models.resnet50)],
)
def test_torchvision_keys(factory, reference) -> None:
    ref_keys = {k: v.shape for k, v in reference().state_dict().items() if not k.startswith("fc.")}
    got = {k: v.shape for k, v in factory(3, 224).state_dict().items()}
    assert got == ref_keys


def test_width_scales_every_stage() -> None:
    model = resnet18(1, 28, width=16)
    assert model.num_features == 128
    assert [getattr(model, f"layer{i}")[0].conv1.out_channels for i in range(1, 5)] == [16, 32, 64, 128]
    assert resnet50(3, 32, width=32).num_features == 1024


def test_zero_init_residual() -> None:
    model = resnet18(3, 32, width=16, zero_init_residual=True)
    assert all(not block.bn2.weight.detach().any() for block in model.layer1)
    assert model.sslkit_config["zero_init_residual"] is True


def test_smallcnn_options() -> None:
    model = smallcnn(1, 28, width=16)
    assert sum(p.numel() for p in model.parameters()) == 97_392  # DESIGN.md §7
    assert model.forward_features(torch.randn(2, 1, 28, 28)).shape == (2, 128, 4, 4)
    deeper = smallcnn(3, 96, width=8, depths=[2, 1, 1, 3])
    assert deeper.sslkit_config["first_stride"] == 2
    assert deeper(torch.randn(2, 3, 96, 96)).shape == (2, 64)
    with pytest.raises(SSLKitError):
        smallcnn(depths=[1, 1])
