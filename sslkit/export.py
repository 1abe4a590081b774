"""Export a backbone as ``model.safetensors`` + timm-layout ``config.json`` + ``README.md``; load it back.

Weights keep torchvision's key names (no wrapper prefixes, no heads); ``config.json`` follows timm's
layout with sslkit's own keys in one top-level ``"sslkit"`` block, from which :func:`load_backbone`
rebuilds the module. With ``onnx=True`` the folder also holds ``model.onnx`` (see
:mod:`sslkit.onnx_export`), whose check is recorded in ``sslkit.onnx``. The model card (:mod:`sslkit.model_card`) lists
the run's evaluation results (METHODS.md §2 protocols, one row per metric, percent ± std over seeds).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from sslkit import __version__
from sslkit.errors import SSLKitError

WEIGHTS, CONFIG, CARD, ONNX = "model.safetensors", "config.json", "README.md", "model.onnx"
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_IMAGENET_MEAN, _IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
_TORCHVISION = ("resnet18", "resnet34", "resnet50")


def _unwrap(module: nn.Module) -> nn.Module:
    """Strip DDP/Accelerate (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(module, "_orig_mod", None)
        inner = inner if isinstance(inner, nn.Module) else getattr(module, "module", None)
        if not isinstance(inner, nn.Module):
            return module
        module = inner


def _clean_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Strip wrapper prefixes; make every tensor contiguous, on CPU, with its own storage."""
    clean = {}
    for key, value in state.items():
        while key.startswith(_WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        clean[key] = value.detach().to("cpu").contiguous().clone()
    return clean


def _backbone_factory(name: str) -> Any:
    """Find a backbone factory through the registry (built-ins and plugins)."""
    try:
        from sslkit._registry import load
    except ImportError:  # registry not available: built-in backbones only
        import sslkit.models

        return getattr(sslkit.models, name)
    return load("backbones", name)


def _build_backbone(config: dict[str, Any]) -> nn.Module:
    kwargs = dict(config)
    return _backbone_factory(kwargs.pop("backbone"))(**kwargs)


def _assert_rebuildable(config: dict[str, Any], state: dict[str, Tensor]) -> None:
    """Assert that the recorded config rebuilds a module with exactly these keys and shapes."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in _build_backbone(config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        missing, unexpected = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
        wrong = sorted(k for k in expected.keys() & got.keys() if expected[k] != got[k])
        raise ValueError(
            f"config {config} does not rebuild the backbone: missing {missing}, "
            f"unexpected {unexpected}, wrong shapes {wrong}"
        )


def timm_loadable(config: dict[str, Any]) -> bool:
    """Whether timm's model of the same name loads the export unchanged (3 ch, width 64, ImageNet stem)."""
    keys = ("backbone", "width", "in_channels", "stem", "stem_padding")
    return tuple(config.get(k) for k in keys) in {(name, 64, 3, "imagenet", 3) for name in _TORCHVISION}


def _timm_config(cfg: dict[str, Any], num_features: int, meta: dict[str, Any]) -> dict[str, Any]:
    channels, size, rgb = cfg["in_channels"], cfg["image_size"], cfg["in_channels"] == 3
    pretrained_cfg = {
        "tag": f"sslkit-{meta.get('method', 'unknown')}",
        "input_size": [channels, size, size],
        "interpolation": meta.get("interpolation", "bilinear"),
        "crop_pct": meta.get("crop_pct", 0.875 if size > 64 else 1.0),
        "crop_mode": "center",
        "mean": list(meta.get("mean", _IMAGENET_MEAN if rgb else [0.5] * channels)),
        "std": list(meta.get("std", _IMAGENET_STD if rgb else [0.5] * channels)),
        "num_classes": 0,
        "first_conv": "conv1" if cfg["backbone"] in _TORCHVISION else "stages.0.0.0",
        "classifier": "fc" if cfg["backbone"] in _TORCHVISION else "",
    }
    loadable = timm_loadable(cfg)
    return {
        "architecture": cfg["backbone"] if loadable else f"sslkit-{cfg['backbone']}",
        "num_classes": 0,
        "num_features": num_features,
        "pretrained_cfg": pretrained_cfg,
        "sslkit": {"backbone": cfg, **{k: meta.get(k) for k in ("method", "dataset", "epochs")},
                   "recipe": meta.get("recipe", {}), "version": __version__, "timm_loadable": loadable},
    }  # fmt: skip


def write_export(
    backbone: nn.Module,
    out_dir: Path,
    *,
    meta: dict[str, Any],
    eval_results: Sequence[Mapping[str, Any]] | None = None,
    overwrite: bool = False,
    onnx: bool = False,
) -> Path:
    """Write ``model.safetensors``, ``config.json`` and ``README.md`` (and ``model.onnx``) for a backbone.

    Args:
        backbone: A backbone built by an ``sslkit.backbones`` factory (it carries ``sslkit_config``
            and ``num_features``), possibly wrapped by DDP/Accelerate or ``torch.compile``.
        out_dir: The export folder; created if needed.
        meta: ``method``, ``dataset``, ``epochs`` and ``recipe`` (the training config), and the
            dataset's ``mean``/``std`` (ImageNet's, or 0.5 for grayscale, when absent); optional
            ``interpolation`` and ``crop_pct``.
        eval_results: Rows of the model card's evaluation table, as :func:`sslkit.runs.eval_results`
            returns them: ``evaluation``, ``dataset``, ``metric``, ``value``, ``seeds`` (and optionally
            ``adaptation``, a list of strings).
        overwrite: Replace the files of an existing, non-empty folder (a stale ``model.onnx`` is
            removed when ``onnx`` is false).
        onnx: Also write ``model.onnx`` and check it against PyTorch with ONNX Runtime
            (:func:`sslkit.onnx_export.export_onnx`); the check is recorded in ``sslkit.onnx``.

    Returns:
        ``out_dir``.

    Raises:
        SSLKitError: ``out_dir`` exists with files and ``overwrite`` is false; the backbone is not an
            sslkit backbone; ``onnx`` and the ONNX packages are missing, or the export or its check fails.
    """
    from sslkit.model_card import model_card  # it reads this module's constants

    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SSLKitError(f"{out_dir} exists; pass --force or choose --out")
    model = _unwrap(backbone)
    cfg = getattr(model, "sslkit_config", None)
    if cfg is None:
        raise SSLKitError("this backbone has no `sslkit_config`; build it with an sslkit backbone factory")
    state = _clean_state_dict(backbone.state_dict())
    _assert_rebuildable(cfg, state)
    config = _timm_config(json.loads(json.dumps(cfg)), int(model.num_features), meta)
    with tempfile.TemporaryDirectory() as scratch:  # ONNX first: a failed export changes nothing
        if onnx:
            config["sslkit"]["onnx"] = _export_onnx(model, Path(scratch) / ONNX, cfg)
        metadata = {key: str(config["sslkit"][key]) for key in ("method", "dataset", "epochs")}
        metadata.update(format="pt", sslkit_version=__version__, backbone=json.dumps(cfg))
        out_dir.mkdir(parents=True, exist_ok=True)
        save_file(state, str(out_dir / WEIGHTS), metadata=metadata)
        (out_dir / CONFIG).write_text(json.dumps(config, indent=2, default=str) + "\n")
        (out_dir / CARD).write_text(model_card(config, eval_results))
        (out_dir / ONNX).unlink(missing_ok=True)  # never leave a graph of other weights next to these
        if onnx:
            shutil.move(Path(scratch) / ONNX, out_dir / ONNX)
    return out_dir


def _export_onnx(model: nn.Module, path: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    from sslkit.onnx_export import export_onnx

    return export_onnx(model, path, image_size=int(cfg["image_size"]), channels=int(cfg["in_channels"]))


def load_backbone(path: str | Path) -> nn.Module:
    """Rebuild an exported backbone and load its weights strictly (safetensors, never pickle).

    Args:
        path: An export folder, or a run folder that contains ``export/``.

    Returns:
        The backbone, in eval mode.

    Raises:
        SSLKitError: No export there, or its ``config.json`` / ``model.safetensors`` is not a valid
            sslkit export (a pickle renamed ``model.safetensors`` is refused, never unpickled).
    """
    path = Path(path)
    if not (path / WEIGHTS).is_file() and (path / "export" / WEIGHTS).is_file():  # a run directory
        path = path / "export"
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise SSLKitError(f"no export at {path}: expected {CONFIG} and {WEIGHTS}; run `sslkit export RUN`")
    try:
        payload = json.loads((path / CONFIG).read_text())
    except json.JSONDecodeError as error:
        raise SSLKitError(f"{path / CONFIG} is not valid JSON ({error}); export the run again") from error
    block = (payload.get("sslkit") if isinstance(payload, dict) else None) or {}
    if "backbone" not in block:
        raise SSLKitError(f"{path / CONFIG} has no 'sslkit' block: not an sslkit export")
    model = _build_backbone(block["backbone"])
    try:
        state = load_file(str(path / WEIGHTS))
    except SafetensorError as error:
        raise SSLKitError(f"{path / WEIGHTS} is not a safetensors file ({error}); sslkit never unpickles "
                          f"weights: export the run again with `sslkit export RUN --force`") from error
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise SSLKitError(f"{path / WEIGHTS} does not match the backbone in {path / CONFIG} "
                          f"({str(error).splitlines()[0]}); export the run again") from error
    return model.eval()
