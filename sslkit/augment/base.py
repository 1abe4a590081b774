"""The batched augmentation contract: ops draw random parameters per sample.

An :class:`Op` works on a float batch ``(B, C, H, W)`` in [0, 1] on any device. ``sample`` draws
the per-sample parameters (from an explicit ``torch.Generator`` so runs are reproducible) and
``apply`` applies given parameters, which is what the tests compare against torchvision's
reference ops. A :class:`Policy` is an ordered list of ops plus the output size; entries of
``sslkit.augmentations`` are factories ``factory(size, channels, **kwargs) -> Policy``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sslkit.augment._random import bernoulli, check_probability


class Op:
    """One batched, per-sample random augmentation (subclasses implement sample/apply)."""

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw the parameters for every sample of ``x`` (tensors on ``x.device``)."""
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Apply ``params`` to ``x``; must not modify ``x`` in place."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(x, self.sample(x, generator))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class RandomApplyOp(Op):
    """An op applied to each sample with probability ``p``; ``sample`` draws only ``apply`` ``(B,)``."""

    def __init__(self, p: float) -> None:
        self.p = check_probability("p", p)

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``apply`` (bool, ``(B,)``)."""
        return {"apply": bernoulli(x.shape[0], self.p, generator, x.device)}


class Policy:
    """An ordered sequence of ops producing ``size x size`` views in [0, 1]."""

    def __init__(self, name: str, ops: Sequence[Op], size: int) -> None:
        self.name = name
        self.ops = list(ops)
        self.size = size

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch: uint8 or float ``(B, C, H, W)`` -> float ``(B, C, size, size)`` in [0, 1]."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        for op in self.ops:
            x = op(x, generator)
        if x.shape[-2:] != (self.size, self.size):
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear",
                                                antialias=True, align_corners=False)
        return x

    def __repr__(self) -> str:
        ops = ", ".join(repr(op) for op in self.ops)
        return f"Policy({self.name!r}, size={self.size}, ops=[{ops}])"
