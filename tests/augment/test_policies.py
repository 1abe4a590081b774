"""The registered policy factories: recipe, kwargs from the CLI, errors, reproducibility."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import torch

from sslkit.augment import ColorJitter, HorizontalFlip, Policy, RandomGrayscale, RandomResizedCrop
from sslkit.augment.blur import GaussianBlur
from sslkit.augment.color import Solarize
from sslkit.augment.policies import simclr, weak
from sslkit.errors import SSLKitError


def test_entry_points_resolve() -> None:
    eps = {ep.name: ep for ep in entry_points(group="sslkit.augmentations")}
    assert eps["simclr"].load() is simclr and eps["weak"].load() is weak


def test_simclr_defaults_are_simsiam_cifar_t_std() -> None:
    policy = simclr(32, 3)
    kinds = [RandomResizedCrop, HorizontalFlip, ColorJitter, RandomGrayscale]
    assert [type(op) for op in policy.ops] == kinds
    rrc, flip, cj, gray = policy.ops
    assert rrc.scale == (0.2, 1.0) and rrc.size == 32 and flip.p == 0.5
    assert (cj.brightness, cj.contrast, cj.saturation) == ((0.6, 1.4),) * 3
    assert cj.hue == (-0.1, 0.1) and cj.p == 0.8 and gray.p == 0.2


def test_simclr_kwargs() -> None:
    policy = simclr(96, 3, scale_min=0.08, jitter=0.8, blur_p=0.5, solarize_p=0.2, hue=0.1, gray_p=0)
    rrc, _, cj, gray, blur, sol = policy.ops
    assert rrc.scale == (0.08, 1.0) and cj.brightness == (0.19999999999999996, 1.8)
    assert cj.hue == (-0.1, 0.1) and gray.p == 0.0
    assert isinstance(blur, GaussianBlur) and blur.p == 0.5 and isinstance(sol, Solarize) and sol.p == 0.2
    assert simclr(32, 3, jitter=0.4).ops[2].hue == (-0.1, 0.1)  # hue = jitter / 4
    assert simclr(32, 3, brightness=0, contrast=0).ops[2].brightness is None


def test_weak_is_crop_and_flip() -> None:
    policy = weak(28, 1, scale_min=0.5)
    assert [type(op) for op in policy.ops] == [RandomResizedCrop, HorizontalFlip]
    assert policy.ops[0].scale == (0.5, 1.0)


@pytest.mark.parametrize("factory", [simclr, weak])
def test_unknown_kwarg_names_valid_keys(factory) -> None:
    with pytest.raises(SSLKitError, match="scale_min"):
        factory(32, 3, scale_mni=0.2)


def test_bad_values_are_user_errors() -> None:
    with pytest.raises(SSLKitError):
        simclr(32, 3, jitter_p=1.5)
    with pytest.raises(SSLKitError):
        simclr(32, 3, scale_min="x")
    with pytest.raises(SSLKitError):
        simclr(32, 2)


@pytest.mark.parametrize(("factory", "channels", "side", "size"),
                         [(simclr, 3, 32, 32), (simclr, 1, 28, 28), (weak, 3, 40, 24), (weak, 1, 28, 28)])
def test_policy_maps_uint8_to_float_views(factory, channels: int, side: int, size: int) -> None:
    policy = factory(size, channels)
    assert isinstance(policy, Policy)
    x = torch.randint(0, 256, (16, channels, side, side), dtype=torch.uint8)
    a = policy(x, torch.Generator().manual_seed(0))
    b = policy(x, torch.Generator().manual_seed(0))
    assert a.shape == (16, channels, size, size) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert not torch.equal(a, policy(x, torch.Generator().manual_seed(1)))
