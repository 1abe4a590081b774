"""Export a backbone to ONNX and check it against PyTorch with ONNX Runtime (``sslkit export --onnx``).

The graph maps normalised ``images`` ``(batch, C, S, S)`` float32 to pooled ``features``
``(batch, D)``; the batch axis is dynamic, the channels and the resolution are the backbone's.

Exporter: ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` tracing + onnxscript), the default
and the maintained path in torch >= 2.9; the TorchScript exporter (``dynamo=False``) also exports these
backbones but is deprecated and warns on every call. The dynamo export takes ~2 s for a ResNet-18 on
CPU. The file is self-contained (``external_data=False``): protobuf's 2 GB limit is far above any
sslkit backbone (ResNet-50 is ~95 MB).

The check runs ONNX Runtime's CPU provider and PyTorch on one random normal batch of
:data:`CHECK_BATCH` images (another size than the export's example batch, so the dynamic axis is
exercised) and fails when ``|onnx - torch| > atol * max(1, max|torch|) + rtol * |torch|`` anywhere:
the absolute tolerance scales with the features' magnitude.
"""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sslkit.errors import SSLKitError

INPUT_NAME, OUTPUT_NAME = "images", "features"
CHECK_BATCH = 4
_EXAMPLE_BATCH = 2  # not 0 or 1: torch.export specialises those sizes, which would fix the batch axis
_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


def require_onnx() -> dict[str, Any]:
    """Import onnx, onnxscript and onnxruntime.

    Returns:
        The modules by name.

    Raises:
        SSLKitError: One of them is not installed.
    """
    modules, missing = {}, []
    for name in _PACKAGES:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SSLKitError(f"ONNX export needs {', '.join(missing)} (not installed); "
                          f"pip install 'sslkit[onnx]'")
    return modules


def export_onnx(
    backbone: nn.Module,
    path: str | Path,
    *,
    image_size: int,
    channels: int,
    check: bool = True,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    opset: int | None = None,
) -> dict[str, Any]:
    """Write ``backbone`` (in eval mode) as an ONNX graph ``images -> features`` and check it.

    Args:
        backbone: Maps normalised ``(B, channels, image_size, image_size)`` floats to ``(B, D)``. It is
            copied to the CPU in eval mode; the module passed in is left as it was.
        path: The ``.onnx`` file to write.
        image_size: Input height and width.
        channels: Input channels.
        check: Compare ONNX Runtime with PyTorch on a random batch of :data:`CHECK_BATCH`.
        atol: Absolute tolerance, multiplied by ``max(1, max|features|)``.
        rtol: Relative tolerance, per element.
        opset: ONNX opset version (default: the exporter's).

    Returns:
        ``file``, ``opset``, ``input``, ``output``, ``exporter``, ``onnxruntime`` (version), and for a
        check ``check_batch``, ``max_abs_diff`` and ``tolerance`` (the absolute bound used).

    Raises:
        SSLKitError: onnx/onnxscript/onnxruntime are missing, the backbone cannot be exported, or the
            check fails.
    """
    modules = require_onnx()
    path = Path(path)
    model = copy.deepcopy(backbone).cpu().eval()
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(_EXAMPLE_BATCH, channels, image_size, image_size, generator=generator)
    _export(model, example, path, opset)
    proto = modules["onnx"].load(str(path))
    record: dict[str, Any] = {
        "file": path.name,
        "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "exporter": f"torch.onnx dynamo (torch {torch.__version__.split('+')[0]})",
        "onnxruntime": modules["onnxruntime"].__version__,
    }
    if check:
        images = torch.randn(CHECK_BATCH, channels, image_size, image_size, generator=generator)
        record.update(check_onnx(model, path, images, atol=atol, rtol=rtol))
    return record


def _export(model: nn.Module, example: torch.Tensor, path: Path, opset: int | None) -> None:
    batch = torch.export.Dim("batch")
    try:
        with torch.no_grad():
            torch.onnx.export(model, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_shapes=({0: batch},), opset_version=opset, dynamo=True,
                              external_data=False, verbose=False)
    except Exception as error:  # torch.export / onnxscript raise many types; all mean "not exportable"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SSLKitError(f"ONNX export of {type(model).__name__} failed ({first}); export without --onnx, "
                          f"or make its forward traceable by torch.export") from error


def check_onnx(model: nn.Module, path: str | Path, images: torch.Tensor, *, atol: float = 1e-4,
               rtol: float = 1e-4) -> dict[str, Any]:
    """Compare ONNX Runtime's output for ``images`` with ``model``'s (eval mode, CPU).

    Returns:
        ``check_batch``, ``max_abs_diff`` and ``tolerance`` (``atol * max(1, max|features|)``).

    Raises:
        SSLKitError: The outputs differ by more than the tolerance, or have different shapes.
    """
    ort = require_onnx()["onnxruntime"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model.eval()(images).float()
    got = torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0])
    if got.shape != expected.shape:
        raise SSLKitError(f"ONNX check failed for {path}: ONNX Runtime gives features of shape "
                          f"{tuple(got.shape)}, PyTorch {tuple(expected.shape)}; export without --onnx")
    diff = (got - expected).abs()
    tolerance = atol * max(1.0, float(expected.abs().max()))
    max_abs_diff = float(diff.max())
    if not bool((diff <= tolerance + rtol * expected.abs()).all()):
        raise SSLKitError(f"ONNX check failed for {path}: ONNX Runtime and PyTorch differ by up to "
                          f"{max_abs_diff:.3g} (tolerance {tolerance:.3g}); export without --onnx")
    return {"check_batch": int(images.shape[0]), "max_abs_diff": max_abs_diff, "tolerance": tolerance}
