"""sslkit: self-supervised visual representation learning from heavy augmentations.

The small public Python API (imported lazily, so ``import sslkit`` stays cheap):

- :func:`pretrain` - pre-train a method on a dataset, as ``sslkit pretrain``;
- :func:`load_backbone` - an exported backbone as a ready torchvision/sslkit module;
- :func:`evaluate` - run an evaluation protocol on a run or an export;
- :func:`export_run` - export a run's backbone (safetensors + config.json + model card).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate", "export_run", "load_backbone", "pretrain"]


def pretrain(method: str, dataset: str, *, preset: str = "paper", **options: Any) -> dict[str, Any]:
    """Pre-train like ``sslkit pretrain``; ``options`` are config fields or method options.

    Example: ``sslkit.pretrain("simsiam", "fashion-mnist", preset="quick", epochs=2)`` returns a
    summary with the run directory and the final kNN top-1.
    """
    from sslkit import _registry
    from sslkit.config import resolve
    from sslkit.engine.trainer import pretrain as run

    cfg = resolve(method, dataset, _registry.load("methods", method), preset=preset, sets=options)
    return run(cfg)


def __getattr__(name: str) -> Any:
    if name == "load_backbone":
        from sslkit.export import load_backbone

        return load_backbone
    if name == "evaluate":
        from sslkit.evaluate.protocols import evaluate

        return evaluate
    if name == "export_run":
        from sslkit.runs import export_run

        return export_run
    raise AttributeError(f"module 'sslkit' has no attribute {name!r}")
