"""The registered policy factories: recipe, kwargs from the CLI, errors, reproducibility."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import torch

from sslkit.augment import ColorJitter, HorizontalFlip, Policy, RandomGrayscale, RandomResizedCrop
from sslkit.augment.blur import GaussianBlur
from sslkit.augment.color import Solarize
from sslkit.augment.gridshuffle import gridshuffle
from sslkit.augment.policies import byol_1, byol_2, rsa_colour, sacc_strong, simclr, weak
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


# --- BYOL's asymmetric views, RSA's colour stage, SACC's strong view, grid shuffle -------------------

NEW_FACTORIES = {"byol-1": byol_1, "byol-2": byol_2, "rsa-colour": rsa_colour, "gridshuffle": gridshuffle}


def test_new_entry_points_resolve() -> None:
    eps = {ep.name: ep for ep in entry_points(group="sslkit.augmentations")}
    for name, factory in NEW_FACTORIES.items():
        assert eps[name].load() is factory
    assert eps["sacc-strong"].value == "sslkit.augment.policies:sacc_strong"


@pytest.mark.parametrize(("factory", "blur_p", "solarize_p"), [(byol_1, 1.0, None), (byol_2, 0.1, 0.2)])
def test_byol_views_follow_the_deepmind_recipe(factory, blur_p: float, solarize_p: float | None) -> None:
    policy = factory(32, 3)
    kinds = [RandomResizedCrop, HorizontalFlip, ColorJitter, RandomGrayscale, GaussianBlur]
    assert [type(op) for op in policy.ops] == kinds + ([Solarize] if solarize_p else [])
    rrc, flip, cj, gray, blur = policy.ops[:5]
    assert rrc.scale == (0.08, 1.0) and rrc.ratio == (3 / 4, 4 / 3) and flip.p == 0.5
    assert (cj.brightness, cj.contrast) == ((0.6, 1.4),) * 2 and cj.saturation == (0.8, 1.2)
    assert cj.hue == (-0.1, 0.1) and cj.p == 0.8 and gray.p == 0.2
    assert blur.p == blur_p and blur.sigma == (0.1, 2.0)
    if solarize_p:
        assert policy.ops[5].p == solarize_p and policy.ops[5].threshold == 0.5
    assert factory(32, 3, blur_p=0, solarize_p=0).ops[-1].__class__ is RandomGrayscale


def test_rsa_colour_is_the_colour_stage_without_geometry() -> None:
    policy = rsa_colour(32, 3)
    assert [type(op) for op in policy.ops] == [ColorJitter, RandomGrayscale, GaussianBlur]
    cj, gray, blur = policy.ops
    assert (cj.brightness, cj.contrast, cj.saturation, cj.hue) == ((0.6, 1.4),) * 3 + ((-0.1, 0.1),)
    assert cj.p == 0.8 and gray.p == 0.2 and blur.p == 0.5 and blur.sigma == (0.1, 2.0)
    with pytest.raises(SSLKitError, match="scale_min"):
        rsa_colour(32, 3, scale_min=0.2)  # no crop: crop keys are not options


def test_rsa_colour_keeps_every_pixel_in_place(batch: torch.Tensor) -> None:
    side, channels = batch.shape[-1], batch.shape[1]
    off = rsa_colour(side, channels, jitter_p=0, gray_p=0, blur_p=0)
    torch.testing.assert_close(off(batch, torch.Generator().manual_seed(0)), batch, atol=0, rtol=0)
    # With the colour ops on, it is still per pixel (and a symmetric blur): it commutes with a
    # flip of the input, which a policy that crops or flips could not do.
    policy = rsa_colour(side, channels, gray_p=0.5, blur_p=0.5)
    a = policy(batch.flip(-1), torch.Generator().manual_seed(3)).flip(-1)
    b = policy(batch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_sacc_strong_is_crop_colour_blur_flip_randaugment() -> None:
    randaugment = pytest.importorskip("sslkit.augment.randaugment")
    policy = sacc_strong(32, 3)
    kinds = [RandomResizedCrop, ColorJitter, RandomGrayscale, GaussianBlur, HorizontalFlip,
             randaugment.FixMatchRandAugment]
    assert [type(op) for op in policy.ops] == kinds
    rrc, cj, gray, blur, flip, ra = policy.ops
    assert rrc.scale == (0.08, 1.0) and cj.saturation == (0.6, 1.4) and cj.p == 0.8
    assert gray.p == 0.2 and blur.p == 0.5 and flip.p == 0.5 and (ra.n, ra.m) == (5, 10)
    rrc, *_, ra = sacc_strong(32, 3, n=2, m=9, scale_min=0.2).ops
    assert (ra.n, ra.m) == (2, 9) and rrc.scale == (0.2, 1.0)
    with pytest.raises(SSLKitError, match="integer"):
        sacc_strong(32, 3, n=2.5)


@pytest.mark.parametrize("factory", [byol_1, byol_2, rsa_colour, gridshuffle, sacc_strong])
def test_new_factories_reject_unknown_keys_and_bad_values(factory) -> None:
    if factory is sacc_strong:
        pytest.importorskip("sslkit.augment.randaugment")
    with pytest.raises(SSLKitError, match="valid keys"):
        factory(32, 3, bogus=1)
    with pytest.raises(SSLKitError, match="probability" if factory is not gridshuffle else "p must"):
        factory(32, 3, **({"p": 2} if factory is gridshuffle else {"gray_p": 2}))
    with pytest.raises(SSLKitError):
        factory(32, 2)


@pytest.mark.parametrize("factory", [byol_1, byol_2, rsa_colour, gridshuffle, sacc_strong])
@pytest.mark.parametrize(("channels", "side"), [(1, 28), (3, 32)])
def test_new_factories_map_uint8_to_float_views(factory, channels: int, side: int) -> None:
    if factory is sacc_strong:
        pytest.importorskip("sslkit.augment.randaugment")
    policy = factory(side, channels)
    x = torch.randint(0, 256, (16, channels, side, side), dtype=torch.uint8)
    a = policy(x, torch.Generator().manual_seed(0))
    assert a.shape == (16, channels, side, side) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    torch.testing.assert_close(a, policy(x, torch.Generator().manual_seed(0)), atol=0, rtol=0)
    assert not torch.equal(a, policy(x, torch.Generator().manual_seed(1)))
