"""Typed, flat configuration of ``sslkit pretrain``, resolved once and saved with the run.

Precedence, lowest first: field defaults, the method's preset (``paper`` or ``quick``), a config
file (``--config run.json|yaml``), explicit CLI flags, then ``--set key=value``. ``None`` means
"the preset's / method's default". A ``--set`` key that is not a config field is a keyword argument
of the method's constructor and is checked against its signature.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sslkit.errors import SSLKitError


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pre-training run."""

    method: str
    dataset: str
    preset: str = "paper"
    backbone: str | None = None
    backbone_options: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    aug: dict[str, str] = field(default_factory=dict)  # role -> "policy[:k=v,...]"
    epochs: int | None = None
    steps: int | None = None  # overrides epochs when set
    batch_size: int | None = None  # global batch (all processes)
    lr: float | None = None  # base learning rate for a batch of 256, scaled by lr_scaling
    lr_scaling: str = "linear"  # "linear" (lr * B / 256) or "none"
    weight_decay: float | None = None
    optimizer: str | None = None  # sgd | adam | adamw
    momentum: float = 0.9
    warmup_epochs: float | None = None
    min_lr_ratio: float = 0.0  # cosine ends at min_lr_ratio * lr
    grad_clip: float | None = None
    image_size: int | None = None  # default: the dataset's native size
    split: str = "train"
    eval_split: str = "test"
    data_dir: str | None = None
    download: bool = False
    out: str = "runs"
    name: str | None = None
    seed: int = 0
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16 | fp16
    compile: bool = False
    channels_last: bool = True
    sync_bn: bool = False  # batch statistics over every process (GlobalBatchNorm)
    on_nan: str = "stop"  # stop | skip: what a NaN/Inf loss does
    num_workers: int = 2
    knn_every: int = 1  # epochs; 0 disables the kNN monitor
    knn_k: int = 200
    knn_t: float = 0.1
    log_every: int = 20  # steps
    checkpoint_every: int = 500  # steps; checkpoints are also written at the end of every epoch
    keep_checkpoints: int = 2

    def validate(self) -> PretrainConfig:
        """Check values that are wrong whatever the method; returns self."""
        def positive(name: str, value: float | None) -> None:
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise SSLKitError(f"{name.replace('_', '-')} must be a positive number, got {value}")

        for name in ("epochs", "steps", "batch_size", "lr", "image_size", "log_every",
                     "checkpoint_every", "keep_checkpoints", "knn_k", "knn_t"):
            positive(name, getattr(self, name))
        for name in ("weight_decay", "warmup_epochs", "knn_every", "num_workers"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise SSLKitError(f"{name.replace('_', '-')} must be >= 0, got {value}")
        choices = {"preset": ("paper", "quick"), "lr_scaling": ("linear", "none"),
                   "precision": ("auto", "fp32", "bf16", "fp16"),
                   "optimizer": (None, "sgd", "adam", "adamw"), "on_nan": ("stop", "skip")}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                shown = ", ".join(v for v in valid if v)
                raise SSLKitError(f"{name.replace('_', '-')} must be one of {shown}, got {getattr(self, name)!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(PretrainConfig)}
_TYPES = {f.name: str(f.type) for f in dataclasses.fields(PretrainConfig)}


def _coerce(name: str, value: Any) -> Any:
    """Check ``value`` against the field's declared type (``int`` accepts 3.0, ``float`` accepts 3)."""
    declared = _TYPES[name]
    flag = name.replace("_", "-")
    if value is None:
        if "None" in declared:
            return None
        raise SSLKitError(f"{flag} cannot be none")
    kind = declared.split("[")[0].split(" ")[0]
    if kind == "int" and not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
        raise SSLKitError(f"{flag} must be an integer, got {value!r}")
    if kind == "float" and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        raise SSLKitError(f"{flag} must be a number, got {value!r}")
    if kind in ("bool", "str", "dict") and not isinstance(value, {"bool": bool, "str": str, "dict": dict}[kind]):
        raise SSLKitError(f"{flag} must be a {kind}, got {value!r}")
    return value


def parse_value(text: str) -> Any:
    """``"0.1"`` -> 0.1, ``"true"`` -> True, ``"none"`` -> None, ``"[1,2]"`` -> [1, 2], else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str], flag: str, example: str | None = None) -> dict[str, Any]:
    """Parse ``["key=value", ...]``; a malformed item is a user error naming the flag and an example."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SSLKitError(f"{flag} expects key=value, got {item!r} (e.g. {example or f'{flag} lr=0.05'})")
        result[key.strip().replace("-", "_")] = parse_value(value)
    return result


def parse_policy_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"simclr:scale_min=0.2,jitter=0.4"`` -> ``("simclr", {"scale_min": 0.2, "jitter": 0.4})``."""
    name, _, options = spec.partition(":")
    if not name:
        raise SSLKitError(f"--aug expects ROLE=POLICY[:k=v,...], got policy {spec!r}")
    items = [o for o in options.split(",") if o.strip()] if options else []
    return name.strip(), parse_assignments(items, "--aug", example="--aug standard=simclr:jitter=0.4")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file of config values (the top level maps field names to values)."""
    path = Path(path)
    if not path.is_file():
        raise SSLKitError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml  # optional; only needed for YAML files

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ImportError as error:
        raise SSLKitError("reading YAML configs needs PyYAML: pip install pyyaml (or use JSON)") from error
    except Exception as error:  # noqa: BLE001 - any parse error is the user's file
        raise SSLKitError(f"cannot parse config file {path}: {error}") from error
    if not isinstance(data, dict):
        raise SSLKitError(f"config file {path} must hold a mapping of option names to values")
    data = data.get("config", data)  # a run's config.json nests the config under "config"
    return {k.replace("-", "_"): v for k, v in data.items()}


def resolve(
    method: str,
    dataset: str,
    method_cls: type,
    *,
    preset: str = "paper",
    file_values: dict[str, Any] | None = None,
    flags: dict[str, Any] | None = None,
    sets: dict[str, Any] | None = None,
) -> PretrainConfig:
    """Merge defaults < preset < file < flags < --set into a validated :class:`PretrainConfig`."""
    file_values = dict(file_values or {})
    preset = (flags or {}).get("preset") or file_values.get("preset") or preset
    presets = getattr(method_cls, "presets", {})
    if presets and preset not in presets:
        raise SSLKitError(f"method {method!r} has no preset {preset!r}; presets: {', '.join(presets)}")
    values: dict[str, Any] = {}
    method_options: dict[str, Any] = {}
    aug: dict[str, str] = {}
    layers = [dict(presets.get(preset, {})), file_values, {k: v for k, v in (flags or {}).items() if v is not None}]
    for layer in layers:
        method_options.update(layer.pop("method", {}) or {})
        method_options.update(layer.pop("method_options", {}) or {})
        for key, spec in (layer.pop("aug", {}) or {}).items():  # per role: --aug heavy=... keeps the others
            if "." not in key:  # ROLE=... replaces earlier ROLE.N=... of the same role
                aug = {k: v for k, v in aug.items() if not k.startswith(key + ".")}
            aug[key] = spec
        values.update(layer)
    for key, value in (sets or {}).items():
        (values if key in FIELDS else method_options)[key] = value
    unknown = set(values) - FIELDS
    if unknown:
        raise SSLKitError(f"unknown config key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(FIELDS))}")
    accepted = inspect.signature(method_cls.__init__).parameters
    bad = [k for k in method_options if k not in accepted or k in ("self", "backbone")]
    if bad:
        valid = [p for p in accepted if p not in ("self", "backbone")]
        raise SSLKitError(f"method {method!r} has no option {', '.join(bad)}; its options: {', '.join(valid)}")
    values["aug"] = {**aug, **values.get("aug", {})}
    values = {key: _coerce(key, value) for key, value in values.items()}
    values.update(method=method, dataset=dataset, preset=preset, method_options=method_options)
    try:
        return PretrainConfig(**values).validate()
    except TypeError as error:
        raise SSLKitError(f"invalid configuration: {error}") from error
