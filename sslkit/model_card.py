"""The model card (``README.md``) of an export: what the backbone is, how to load it (sslkit,
torchvision, timm, ONNX Runtime), the training recipe and the evaluation results found in the run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sslkit.export import _TORCHVISION, timm_loadable


def _torchvision_snippet(cfg: dict[str, Any]) -> str:
    stem = ""
    if not timm_loadable(cfg):
        kernel, stride = (3, 1) if cfg["stem"] == "cifar" else (7, 2)
        stem = (
            f"model.conv1 = torch.nn.Conv2d({cfg['in_channels']}, 64, kernel_size={kernel}, stride={stride}, "
            f"padding={cfg['stem_padding']}, bias=False)\n"
        )
        stem += "model.maxpool = torch.nn.Identity()\n" if cfg["stem"] == "cifar" else ""
    return (
        "import torch\nimport torchvision\nfrom safetensors.torch import load_file\n\n"
        f"model = torchvision.models.{cfg['backbone']}()\n{stem}model.fc = torch.nn.Identity()\n"
        'model.load_state_dict(load_file("model.safetensors"), strict=True)\n'
        "model.eval()  # maps (B, C, H, W) to pooled features\n"
    )


_CARD = """# {name} pretrained with sslkit {method} on {dataset}

A self-supervised backbone (no classifier head) trained with sslkit {version} for {epochs} epochs.
Input `{c}x{s}x{s}`, normalised with mean {mean} and std {std}; output: {nf} pooled features.

## Load with sslkit

```python
import sslkit

model = sslkit.load_backbone("path/to/this/folder")  # safetensors only; returns an eval-mode module
```

{other}{onnx}{evaluation}
## Training recipe

```json
{recipe}
```
"""


def model_card(config: dict[str, Any], eval_results: Sequence[Mapping[str, Any]] | None) -> str:
    block, cfg, pre = config["sslkit"], config["sslkit"]["backbone"], config["pretrained_cfg"]
    name = cfg["backbone"]
    if name in _TORCHVISION and cfg.get("width") == 64:
        timm = (
            '`timm.create_model("local-dir:<this folder>", pretrained=True, num_classes=0)` loads it.'
            if timm_loadable(cfg)
            else f"timm cannot load this folder directly: its `{name}` has a 3-channel ImageNet stem "
            f'(7x7 stride-2 conv1 + max-pool). Create `timm.create_model("{name}", num_classes=0)`, '
            "replace `conv1`/`maxpool` as in the torchvision snippet, then `load_state_dict` the same file."
        )
        other = (
            f"## Load with torchvision\n\nRun from this folder:\n\n```python\n{_torchvision_snippet(cfg)}```"
        )
        other += f"\n\n## Load with timm\n\n{timm}\n"
    else:
        other = f"torchvision and timm have no such architecture ({json.dumps(cfg)}): load it with sslkit.\n"
    return _CARD.format(
        name=name, method=block["method"], dataset=block["dataset"], version=block["version"],
        epochs=block["epochs"], c=pre["input_size"][0], s=pre["input_size"][1], mean=pre["mean"],
        std=pre["std"], nf=config["num_features"], other=other,
        onnx=_onnx_section(block["onnx"], pre, config["num_features"]) if block.get("onnx") else "",
        evaluation=_evaluation_section(eval_results) if eval_results else "",
        recipe=json.dumps(block["recipe"], indent=2, default=str),
    )  # fmt: skip


def _onnx_section(record: dict[str, Any], pre: dict[str, Any], num_features: int) -> str:
    """The "Load with ONNX Runtime" section: a snippet that runs from the export folder, and the check."""
    c, s = pre["input_size"][0], pre["input_size"][1]
    snippet = (
        "import numpy as np\nimport onnxruntime as ort\n\n"
        f'session = ort.InferenceSession("{record["file"]}", providers=["CPUExecutionProvider"])\n'
        f"mean = np.array({list(pre['mean'])}, dtype=np.float32).reshape(1, -1, 1, 1)\n"
        f"std = np.array({list(pre['std'])}, dtype=np.float32).reshape(1, -1, 1, 1)\n"
        f"images = np.random.rand(2, {c}, {s}, {s}).astype(np.float32)  # yours: in [0, 1], any batch size\n"
        f'features = session.run(["{record["output"]}"], {{"{record["input"]}": (images - mean) / std}})[0]'
        f"  # (2, {num_features})\n"
    )
    check = (
        f"ONNX Runtime {record['onnxruntime']} matched PyTorch on a random batch of {record['check_batch']} "
        f"(max abs difference {record['max_abs_diff']:.2g}, tolerance {record['tolerance']:.2g})."
        if record.get("max_abs_diff") is not None
        else "The ONNX graph was not checked against PyTorch."
    )
    return (
        f"\n## Load with ONNX Runtime\n\n`{record['file']}` (opset {record['opset']}, {record['exporter']}) maps "
        f"`{record['input']}` (batch, {c}, {s}, {s}) to `{record['output']}` (batch, {num_features}); the batch "
        f"axis is dynamic. {check} Run from this folder:\n\n```python\n{snippet}```\n"
    )


_EVAL_COLUMNS = ("evaluation", "dataset", "metric", "value", "seeds")


def _evaluation_section(rows: Sequence[Mapping[str, Any]]) -> str:
    """The evaluation table (one row per metric) and, for transfers, how the input was adapted."""
    lines = ["| " + " | ".join(_EVAL_COLUMNS) + " |", "|" + "---|" * 3 + "---:|---:|"]
    lines += ["| " + " | ".join(_cell(row.get(key)) for key in _EVAL_COLUMNS) + " |" for row in rows]
    notes = {}
    for row in rows:
        if row.get("adaptation"):
            notes[row["evaluation"]] = "; ".join(str(step) for step in row["adaptation"])
    adaptation = "".join(f"- {name}: {how}\n" for name, how in notes.items())
    return (
        "\n## Evaluation\n\nValues are percent (mean ± sample std over the seeds when there are several; "
        "METHODS.md §2 protocols).\n\n" + "\n".join(lines) + "\n"
        + (f"\nInput adaptation:\n\n{adaptation}" if adaptation else "")
    )


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")
