"""Export: safetensors + timm-style config + card; strict loads into torchvision, sslkit and timm."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from sslkit.errors import SSLKitError
from sslkit.export import load_backbone, write_export
from sslkit.models import resnet18, smallcnn

META = {
    "method": "simsiam",
    "dataset": "fashion-mnist",
    "epochs": 3,
    "recipe": {"lr": 0.06, "batch_size": 256},
}


def _perturbed(model: nn.Module) -> nn.Module:
    """Give BN non-trivial running stats so eval-mode outputs depend on every tensor."""
    model.train()
    with torch.no_grad():
        model(torch.randn(4, model.sslkit_config["in_channels"], 32, 32))
    return model.eval()


def _same(a: nn.Module, b: nn.Module, x: torch.Tensor) -> bool:
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize(
    ("channels", "stem", "padding"), [(1, "cifar", 1), (3, "cifar", 2), (3, "imagenet", 3)]
)
def test_strict_load_into_torchvision(tmp_path: Path, channels: int, stem: str, padding: int) -> None:
    model = _perturbed(resnet18(channels, 32, stem=stem, stem_padding=padding))
    write_export(model, tmp_path / "export", meta=META)
    tv = torchvision.models.resnet18()
    kernel, stride = (3, 1) if stem == "cifar" else (7, 2)
    tv.conv1 = nn.Conv2d(channels, 64, kernel, stride, padding, bias=False)
    if stem == "cifar":
        tv.maxpool = nn.Identity()
    tv.fc = nn.Identity()
    tv.load_state_dict(load_file(tmp_path / "export" / "model.safetensors"), strict=True)
    assert _same(model, tv, torch.randn(2, channels, 32, 32))


def test_model_card_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _perturbed(resnet18(1, 28))
    rows = [{"evaluation": "knn", "dataset": "fashion-mnist", "metric": "top-1", "value": "81.23", "seeds": 1}]
    out = write_export(model, tmp_path / "e", meta=META, eval_results=rows)
    card = (out / "README.md").read_text()
    snippet = re.findall(r"```python\n(.*?)```", card, re.S)[1]  # [0] is sslkit, [1] torchvision
    monkeypatch.chdir(out)
    scope: dict = {}
    exec(snippet, scope)
    assert _same(model, scope["model"], torch.randn(2, 1, 28, 28))
    assert "| knn | fashion-mnist | top-1 | 81.23 | 1 |" in card
    assert '"lr": 0.06' in card and "timm cannot load" in card and "ONNX" not in card


@pytest.mark.parametrize("factory", [lambda: resnet18(1, 28, width=16), lambda: smallcnn(3, 32, width=8)])
def test_load_backbone_round_trip(tmp_path: Path, factory) -> None:
    model = _perturbed(factory())
    write_export(model, tmp_path / "run" / "export", meta=META)
    for path in (tmp_path / "run" / "export", tmp_path / "run"):
        loaded = load_backbone(path)
        assert not loaded.training and loaded.sslkit_config == model.sslkit_config
        assert _same(model, loaded, torch.randn(2, model.sslkit_config["in_channels"], 32, 32))


def test_wrappers_stripped_and_metadata(tmp_path: Path) -> None:
    model = smallcnn(1, 28, width=8)
    compiled, wrapper = nn.Module(), nn.Module()
    compiled._orig_mod = model  # what torch.compile looks like
    wrapper.module = compiled  # what DDP / Accelerate look like
    write_export(wrapper, tmp_path, meta=META)
    with safe_open(tmp_path / "model.safetensors", "pt") as f:
        meta = f.metadata()
        assert set(f.keys()) == set(model.state_dict())
    assert meta["method"] == "simsiam" and meta["dataset"] == "fashion-mnist" and meta["epochs"] == "3"
    assert meta["format"] == "pt" and meta["sslkit_version"]
    assert json.loads(meta["backbone"]) == model.sslkit_config
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == "sslkit-smallcnn" and config["num_classes"] == 0
    assert config["num_features"] == 64 and config["pretrained_cfg"]["input_size"] == [1, 28, 28]
    assert config["sslkit"]["backbone"] == model.sslkit_config and config["sslkit"]["epochs"] == 3


def test_existing_dir_refused(tmp_path: Path) -> None:
    model = smallcnn(1, 28, width=8)
    write_export(model, tmp_path, meta=META)
    with pytest.raises(SSLKitError, match="exists; pass --force"):
        write_export(model, tmp_path, meta=META)
    write_export(model, tmp_path, meta=META, overwrite=True)


def test_load_backbone_missing(tmp_path: Path) -> None:
    with pytest.raises(SSLKitError, match="no export"):
        load_backbone(tmp_path)


def test_timm_loads_imagenet_stem(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    model = _perturbed(resnet18(3, 64, stem="imagenet"))
    stats = {"mean": [0.44, 0.43, 0.40], "std": [0.26, 0.26, 0.27]}
    write_export(model, tmp_path, meta={**META, "dataset": "stl10", **stats})
    assert json.loads((tmp_path / "config.json").read_text())["architecture"] == "resnet18"
    loaded = timm.create_model(f"local-dir:{tmp_path}", pretrained=True, num_classes=0)
    assert _same(model, loaded, torch.randn(3, 3, 64, 64))
    data = timm.data.resolve_data_config(model=loaded)  # timm's preprocessing is the export's
    assert tuple(data["input_size"]) == (3, 64, 64)
    assert list(data["mean"]) == stats["mean"] and list(data["std"]) == stats["std"]


class _Unpickled:
    """Touches ``marker`` when unpickled: proves whether a loader ran pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("save", [pickle.dump, torch.save])
def test_load_backbone_never_unpickles(tmp_path: Path, save) -> None:
    write_export(smallcnn(1, 28, width=8), tmp_path / "e", meta=META)
    marker = tmp_path / "unpickled"
    with open(tmp_path / "e" / "model.safetensors", "wb") as f:
        save({"stages.0.0.weight": _Unpickled(marker)}, f)
    with pytest.raises(SSLKitError, match="is not a safetensors file.*never unpickles"):
        load_backbone(tmp_path / "e")
    assert not marker.exists()


def test_load_backbone_wrong_weights(tmp_path: Path) -> None:
    write_export(smallcnn(1, 28, width=8), tmp_path / "a", meta=META)
    write_export(smallcnn(1, 28, width=16), tmp_path / "b", meta=META)
    (tmp_path / "b" / "model.safetensors").replace(tmp_path / "a" / "model.safetensors")
    with pytest.raises(SSLKitError, match="does not match the backbone"):
        load_backbone(tmp_path / "a")
