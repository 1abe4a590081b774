"""Gaussian blur with a per-sample sigma: separable, batched over samples with per-sample taps."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sslkit.augment._random import bernoulli, check_probability, uniform
from sslkit.augment.base import Op


def default_kernel_size(side: int) -> int:
    """SimCLR's kernel: radius ``(side // 10) // 2``, size ``2 * radius + 1`` (>= 3); 23 for 224 px."""
    return max(3, 2 * ((side // 10) // 2) + 1)


def gaussian_kernels(sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Per-sample normalised 1-D Gaussian kernels, torchvision's formula.

    Args:
        sigma: ``(B,)`` positive standard deviations.
        kernel_size: Odd number of taps.

    Returns:
        ``(B, kernel_size)`` kernels summing to 1.
    """
    lim = (kernel_size - 1) / (2.0 * math.sqrt(2.0))
    t = torch.linspace(-lim, lim, steps=kernel_size, dtype=sigma.dtype, device=sigma.device)
    return torch.softmax((t[None, :] / sigma[:, None]).pow(2).neg(), dim=1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Blur each sample with its own sigma (reflect padding, as torchvision).

    Separable: one multiply-add per tap and axis over shifted views of the padded batch, with the
    taps broadcast per sample. On one CPU core at B=512, 32x32x3, k=3 this takes ~2 ms against
    ~10 ms for the grouped ``conv2d`` (``groups=B*C``) formulation, with identical results.

    Args:
        x: ``(B, C, H, W)`` float batch.
        sigma: ``(B,)`` standard deviations (same in x and y, as torchvision's GaussianBlur).
        kernel_size: Odd number of taps; ``kernel_size // 2`` must be smaller than the image side.

    Returns:
        The blurred batch, same shape.
    """
    _, _, h, w = x.shape
    r = kernel_size // 2
    taps = gaussian_kernels(sigma.to(x.dtype), kernel_size).T.reshape(kernel_size, -1, 1, 1, 1)
    padded = F.pad(x, (r, r, r, r), mode="reflect")
    rows = padded[..., 0:w] * taps[0]
    for i in range(1, kernel_size):
        rows.addcmul_(padded[..., i:i + w], taps[i])
    out = rows[..., 0:h, :] * taps[0]
    for i in range(1, kernel_size):
        out.addcmul_(rows[..., i:i + h, :], taps[i])
    return out


class GaussianBlur(Op):
    """Gaussian blur with sigma ~ U(sigma) per sample, applied with probability ``p``.

    Args:
        p: Probability of blurring a sample.
        sigma: Range of the standard deviation, in pixels.
        kernel_size: Odd kernel size; ``None`` -> ~10% of the image side (SimCLR's rule, see
            :func:`default_kernel_size`), decided from the batch at sampling time.
    """

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0),
                 kernel_size: int | None = None) -> None:
        self.p = check_probability("p", p)
        if not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError(f"sigma must satisfy 0 < min <= max, got {sigma}")
        if kernel_size is not None and (kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.kernel_size = kernel_size

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``apply`` (bool) and ``sigma`` (float) per sample."""
        n, dev = x.shape[0], x.device
        return {"apply": bernoulli(n, self.p, generator, dev),
                "sigma": uniform(n, self.sigma[0], self.sigma[1], generator, dev)}

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Blur the selected samples."""
        ks = self.kernel_size or default_kernel_size(min(x.shape[-2:]))
        if x.device.type == "cpu":  # blur only the selected samples
            idx = params["apply"].nonzero().squeeze(1)
            out = x.clone()
            if idx.numel():
                out.index_copy_(0, idx, gaussian_blur(x.index_select(0, idx), params["sigma"][idx], ks))
            return out
        blurred = gaussian_blur(x, params["sigma"], ks)
        return torch.lerp(x, blurred, params["apply"].to(x.dtype).view(-1, 1, 1, 1))
