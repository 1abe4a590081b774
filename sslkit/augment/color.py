"""Colour ops with torchvision semantics, batched with per-sample factors.

Functional forms (``adjust_brightness`` ...) take per-sample factors of shape ``(B,)`` and
reproduce ``torchvision.transforms.v2.functional`` on float images to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from sslkit.augment._random import bernoulli, check_probability, rand, uniform
from sslkit.augment.base import Op, RandomApplyOp

# ITU-R 601-2 luma weights, as torchvision's rgb_to_grayscale.
_LUMA = (0.2989, 0.587, 0.114)
# Sextant offsets of (R, G, B) in the closed-form HSV -> RGB conversion.
_HUE_OFFSETS = torch.tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1)


_Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _col(f: torch.Tensor) -> torch.Tensor:
    """Reshape per-sample factors ``(B,)`` to broadcast over ``(B, C, H, W)``."""
    return f.view(-1, 1, 1, 1)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """Luma of an RGB batch ``(B, 3, H, W)`` -> ``(B, 1, H, W)`` (ITU-R 601-2, as torchvision)."""
    r, g, b = x.unbind(dim=1)
    return r.mul(_LUMA[0]).add_(g, alpha=_LUMA[1]).add_(b, alpha=_LUMA[2]).unsqueeze(1)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """``clamp(ratio * x + (1 - ratio) * other, 0, 1)`` with per-sample ``ratio``."""
    r = _col(ratio)
    return x.mul(r).add_(other * (1.0 - r)).clamp_(0.0, 1.0)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Multiply each sample by its factor and clamp to [0, 1]."""
    return x.mul(_col(factor)).clamp_(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend each sample with the mean of its grayscale image (per sample)."""
    gray = rgb_to_gray(x) if x.shape[1] == 3 else x
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, factor)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend each sample with its grayscale image (no-op on one channel, as torchvision)."""
    if x.shape[1] == 1:
        return x
    return _blend(x, rgb_to_gray(x), factor)


def adjust_hue(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Rotate each sample's hue by its factor in [-0.5, 0.5] (no-op on one channel).

    Same result as torchvision's RGB -> HSV -> shift -> RGB (to ~2e-6), computed in closed form
    without ``torch.where`` (whose CPU kernel is ~10x slower than arithmetic here): the hue in
    sextants ``h6`` from the max channel (ties resolved R, then G, as torchvision), then channel
    ``c`` of the output is ``max - (max - min) * clamp(min(k, 4 - k), 0, 1)`` with
    ``k = (h6 + n_c) mod 6`` and ``n = (5, 3, 1)`` for (R, G, B). Value and saturation are kept.
    """
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(dim=1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    crange = maxc - minc
    is_r = 1.0 - torch.sign(maxc - r)  # 1 where R is the max, else 0
    is_g = (1.0 - torch.sign(maxc - g)).mul_(1.0 - is_r)  # G is the max and R is not
    is_b = 1.0 - is_r - is_g
    num = (g - b).mul_(is_r).add_((b - r).mul_(is_g)).add_((r - g).mul_(is_b))
    # crange == 0 -> num == 0 and the output is max whatever the hue: any finite divisor will do.
    h6 = num.div_(crange.clamp(min=1e-12)).add_(is_g, alpha=2.0).add_(is_b, alpha=4.0)
    h6 = h6.add_(factor.view(-1, 1, 1) * 6.0).unsqueeze_(1)  # (B, 1, H, W), any real: taken mod 6
    k = h6 + _HUE_OFFSETS.to(x.device)  # (B, 3, H, W)
    k = k.sub_(torch.floor(k * (1.0 / 6.0)).mul_(6.0))
    w = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return w.mul_(-crange.unsqueeze(1)).add_(maxc.unsqueeze(1))


def solarize(x: torch.Tensor, threshold: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Invert pixels ``>= threshold`` (of the samples in ``mask``, all if ``None``)."""
    cond = (x >= threshold).to(x.dtype)
    if mask is not None:
        cond.mul_(_col(mask.to(x.dtype)))
    return torch.lerp(x, 1.0 - x, cond)  # exact at weights 0 and 1, much faster than torch.where on CPU


def _factor_range(name: str, value: float, centre: float, bound: float | None) -> tuple[float, float] | None:
    """torchvision's ColorJitter range: ``[max(0, 1 - v), 1 + v]``, hue (bounded) ``[-v, v]``; None if 0."""
    value = float(value)
    if value < 0 or (bound is not None and value > bound):
        raise ValueError(f"{name} must be in [0, {bound if bound is not None else 'inf'}], got {value}")
    if value == 0:
        return None
    low = centre - value if bound is not None else max(0.0, centre - value)
    return (low, centre + value)


class ColorJitter(Op):
    """Random brightness, contrast, saturation and hue in a random order per sample, with prob. ``p``.

    Factors are uniform in ``[max(0, 1 - b), 1 + b]`` (same for contrast, saturation) and the hue
    shift in ``[-hue, hue]``; each sample gets its own permutation of the four ops, as
    torchvision's ``RandomApply([ColorJitter(b, c, s, h)], p)`` draws one per call. A strength of 0
    disables that op.

    Args:
        brightness: Brightness jitter strength.
        contrast: Contrast jitter strength.
        saturation: Saturation jitter strength.
        hue: Hue jitter strength in [0, 0.5].
        p: Probability of jittering a sample at all.
    """

    _NAMES = ("brightness", "contrast", "saturation", "hue")
    _FNS: tuple[_Fn, ...] = (
        adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, saturation: float = 0.0,
                 hue: float = 0.0, p: float = 0.8) -> None:
        self.brightness = _factor_range("brightness", brightness, 1.0, None)
        self.contrast = _factor_range("contrast", contrast, 1.0, None)
        self.saturation = _factor_range("saturation", saturation, 1.0, None)
        self.hue = _factor_range("hue", hue, 0.0, 0.5)
        self.p = check_probability("p", p)

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``apply`` (bool), ``order`` (``(B, 4)`` permutations) and one factor per enabled op."""
        n, dev = x.shape[0], x.device
        params = {"apply": bernoulli(n, self.p, generator, dev),
                  "order": rand(n, 4, generator=generator).argsort(dim=1).to(dev)}
        for name in self._NAMES:
            rng = getattr(self, name)
            if rng is not None:
                params[name] = uniform(n, rng[0], rng[1], generator, dev)
        return params

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Apply the enabled ops in each sample's order to the samples whose ``apply`` is set.

        On CPU each step runs every op only on the samples that take it at that step (index
        select / copy), so each op costs one pass over the batch; on other devices it uses masks
        (no host sync), computing each op on the whole batch at each step.
        """
        if x.device.type == "cpu":
            return self.apply_indexed(x, params)
        return self.apply_masked(x, params)

    def _steps(self, x: torch.Tensor,
               params: dict[str, torch.Tensor]) -> Iterator[tuple[_Fn, torch.Tensor, torch.Tensor]]:
        """Yield ``(fn, factors, selected)`` for each step and enabled op, in application order."""
        for step in range(4):
            for j, (name, fn) in enumerate(zip(self._NAMES, self._FNS, strict=True)):
                if name not in params or (x.shape[1] == 1 and name in ("saturation", "hue")):
                    continue
                yield fn, params[name], params["apply"] & (params["order"][:, step] == j)

    def apply_indexed(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """CPU path: each op runs only on the samples that take it at that step (one pass per op)."""
        out = x.clone()
        for fn, factors, sel in self._steps(x, params):
            idx = sel.nonzero().squeeze(1)
            if idx.numel():
                out.index_copy_(0, idx, fn(out.index_select(0, idx), factors[idx]))
        return out

    def apply_masked(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Device path without host syncs: every op on the whole batch, kept where selected."""
        out = x
        for fn, factors, sel in self._steps(x, params):
            out = torch.lerp(out, fn(out, factors), _col(sel.to(x.dtype)))  # exact for 0/1 weights
        return out


class RandomGrayscale(RandomApplyOp):
    """Convert each sample to grayscale (kept as 3 channels) with probability ``p``.

    No-op on one-channel images.

    Args:
        p: Probability of converting a sample.
    """

    def __init__(self, p: float = 0.2) -> None:
        super().__init__(p)

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Replace the selected samples by their luma, repeated over the 3 channels."""
        if x.shape[1] == 1:
            return x
        return torch.lerp(x, rgb_to_gray(x).expand_as(x), _col(params["apply"].to(x.dtype)))


class Solarize(RandomApplyOp):
    """Invert pixels at or above ``threshold`` with probability ``p`` per sample (torchvision's solarize).

    Args:
        p: Probability of solarizing a sample.
        threshold: Threshold in [0, 1].
    """

    def __init__(self, p: float = 0.2, threshold: float = 0.5) -> None:
        super().__init__(p)
        self.threshold = float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Solarize the selected samples."""
        return solarize(x, self.threshold, params["apply"])
