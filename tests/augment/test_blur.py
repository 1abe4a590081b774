"""GaussianBlur against torchvision.transforms.v2.functional.gaussian_blur on fixed sigmas."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslkit.augment import GaussianBlur
from sslkit.augment.blur import default_kernel_size, gaussian_blur


@pytest.mark.parametrize("kernel_size", [3, 5, 9])
def test_blur_matches_torchvision(batch: torch.Tensor, kernel_size: int) -> None:
    sigma = torch.linspace(0.1, 2.0, batch.shape[0])
    out = gaussian_blur(batch, sigma, kernel_size)
    for i in range(batch.shape[0]):
        ref = TF.gaussian_blur(batch[i], [kernel_size, kernel_size], [float(sigma[i])] * 2)
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)  # measured <= 1e-6


def test_default_kernel_size_is_simclr_rule() -> None:
    assert [default_kernel_size(s) for s in (28, 32, 96, 224)] == [3, 3, 9, 23]


def test_blur_op_applies_to_selected_samples_only(batch: torch.Tensor) -> None:
    op = GaussianBlur(p=0.5, sigma=(0.5, 1.5))
    params = op.sample(batch, torch.Generator().manual_seed(0))
    assert ((params["sigma"] >= 0.5) & (params["sigma"] <= 1.5)).all()
    out = op.apply(batch, params)
    blurred = gaussian_blur(batch, params["sigma"], 3)
    for i in range(batch.shape[0]):
        torch.testing.assert_close(out[i], blurred[i] if params["apply"][i] else batch[i], atol=0, rtol=0)


def test_blur_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        GaussianBlur(kernel_size=4)
    with pytest.raises(ValueError):
        GaussianBlur(sigma=(0.0, 1.0))
