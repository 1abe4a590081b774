"""ONNX export: ONNX Runtime matches PyTorch at other batch sizes; the card's snippet runs; clear errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from sslkit.errors import SSLKitError
from sslkit.export import write_export
from sslkit.models import resnet18, smallcnn
from sslkit.onnx_export import check_onnx, export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

META = {"method": "byol", "dataset": "digits", "epochs": 2, "recipe": {}, "mean": [0.3], "std": [0.2]}


def _trained_bn(model: nn.Module) -> nn.Module:
    """Non-trivial BN running stats, then train mode: the export must still use eval mode."""
    size, channels = model.sslkit_config["image_size"], model.sslkit_config["in_channels"]
    with torch.no_grad():
        model.train()(torch.randn(8, channels, size, size) * 3 + 1)
    return model


def _session(path: Path, channels: int, size: int):
    """An ONNX Runtime session, after checking the graph's float32 ``images`` input with a symbolic batch axis."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "images" and inp.type == "tensor(float)" and out.name == "features"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [channels, size, size]
    return session


@pytest.mark.parametrize("factory", [lambda: smallcnn(1, 28, width=8), lambda: resnet18(3, 32, width=16)],
                         ids=["smallcnn", "resnet18-w16"])
def test_onnx_matches_pytorch_at_other_batch_sizes(tmp_path: Path, factory) -> None:
    model = _trained_bn(factory())
    c, s = model.sslkit_config["in_channels"], model.sslkit_config["image_size"]
    record = export_onnx(model, tmp_path / "m.onnx", image_size=s, channels=c)
    assert model.training  # the caller's module is left as it was
    assert record["max_abs_diff"] <= record["tolerance"] and record["check_batch"] == 4
    assert record["opset"] >= 17 and record["file"] == "m.onnx"
    model.eval()
    session = _session(tmp_path / "m.onnx", c, s)
    for batch in (1, 7):  # the export's example batch is 2, the check's 4
        images = torch.randn(batch, c, s, s)
        with torch.no_grad():
            expected = model(images)
        got = torch.from_numpy(session.run(["features"], {"images": images.numpy()})[0])
        assert got.shape == (batch, model.num_features)
        torch.testing.assert_close(got, expected, atol=1e-4 * max(1.0, float(expected.abs().max())), rtol=1e-4)


def test_check_fails_on_other_weights(tmp_path: Path) -> None:
    model = smallcnn(1, 16, width=4).eval()
    export_onnx(model, tmp_path / "m.onnx", image_size=16, channels=1, check=False)
    other = smallcnn(1, 16, width=4).eval()  # same graph, other random weights
    with pytest.raises(SSLKitError, match="ONNX check failed.*differ by up to"):
        check_onnx(other, tmp_path / "m.onnx", torch.randn(4, 1, 16, 16))


def test_write_export_onnx_records_check_and_card_snippet_runs(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    model = _trained_bn(smallcnn(1, 28, width=8)).eval()
    out = write_export(model, tmp_path / "e", meta=META, onnx=True)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.onnx", "model.safetensors"]
    record = json.loads((out / "config.json").read_text())["sslkit"]["onnx"]
    assert record["file"] == "model.onnx" and record["max_abs_diff"] <= record["tolerance"]
    assert isinstance(record["opset"], int)
    card = (out / "README.md").read_text()
    assert "## Load with ONNX Runtime" in card and f"opset {record['opset']}" in card
    snippet = next(code for code in re.findall(r"```python\n(.*?)```", card, re.S) if "onnxruntime" in code)
    monkeypatch.chdir(out)
    scope: dict = {}
    exec(snippet, scope)
    normalised = (torch.from_numpy(scope["images"]) - 0.3) / 0.2
    with torch.no_grad():
        expected = model(normalised)
    torch.testing.assert_close(torch.from_numpy(scope["features"]), expected, atol=1e-4, rtol=1e-4)

    write_export(model, out, meta=META, overwrite=True)  # re-export without ONNX: no stale graph left
    assert not (out / "model.onnx").exists() and "ONNX" not in (out / "README.md").read_text()
    assert "onnx" not in json.loads((out / "config.json").read_text())["sslkit"]


@pytest.mark.parametrize("missing", ["onnxruntime", "onnxscript"])
def test_missing_onnx_packages_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` now raises ImportError
    with pytest.raises(SSLKitError) as error:
        write_export(smallcnn(1, 16, width=4), tmp_path / "e", meta=META, onnx=True)
    message = str(error.value)
    assert "\n" not in message and missing in message and "pip install 'sslkit[onnx]'" in message
    assert not (tmp_path / "e").exists()  # nothing written


def test_unexportable_backbone_is_a_user_error(tmp_path: Path) -> None:
    class DataDependent(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1)[:, : int(x.sum() > 0) + 1]  # output shape depends on the values

    with pytest.raises(SSLKitError, match="ONNX export of DataDependent failed"):
        export_onnx(DataDependent(), tmp_path / "m.onnx", image_size=4, channels=1, check=False)

