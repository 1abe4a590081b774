"""The two RandAugment variants (METHODS.md §1.2a/b) and their policies.

The ops themselves are tested against PIL in test_pixel/test_enhance/test_affine/test_cutout; here:
the magnitude maps, the sampling (with replacement, signs, per-op probability), that the grouped
batched application equals applying each sample's ops one by one, and the policy factories.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import torch

from sslkit.augment import Policy
from sslkit.augment.choice import OneOf
from sslkit.augment.gridshuffle import GridShuffle
from sslkit.augment.randaugment import (
    DSSLRandAugment,
    FixMatchRandAugment,
    randaugment_dssl,
    randaugment_fixmatch,
    run_op,
)
from sslkit.errors import SSLKitError

DSSL_NAMES = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
              "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "Cutout", "TranslateX", "TranslateY")
FIXMATCH_NAMES = ("AutoContrast", "Brightness", "Color", "Contrast", "Equalize", "Identity", "Posterize", "Rotate",
                  "Sharpness", "ShearX", "ShearY", "Solarize", "TranslateX", "TranslateY")
SIGNED = {"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"}


def test_op_lists_follow_methods_md() -> None:
    assert DSSLRandAugment().names == DSSL_NAMES
    assert FixMatchRandAugment().names == FIXMATCH_NAMES


def test_dssl_magnitudes_at_m9() -> None:
    """METHODS.md §1.2a: rotate 9, posterize 1 bit, solarize 76.8, enhance 0.64, shear 0.09, cutout 12, translate 30."""
    mags = DSSLRandAugment(2, 9).magnitudes
    expected = {"Rotate": 9, "Posterize": 1, "Solarize": 76.8, "SolarizeAdd": 33, "Color": 0.64, "Contrast": 0.64,
                "Brightness": 0.64, "Sharpness": 0.64, "ShearX": 0.09, "ShearY": 0.09, "Cutout": 12,
                "TranslateX": 30, "TranslateY": 30}
    for name, value in expected.items():
        assert mags[name] == pytest.approx(value, abs=1e-9), name
    assert DSSLRandAugment(2, 30).magnitudes["Posterize"] == 4 and DSSLRandAugment(2, 0).magnitudes["Posterize"] == 1
    assert DSSLRandAugment(8, 16).magnitudes["TranslateX"] == pytest.approx(160 / 3)


@pytest.mark.parametrize("level", range(1, 10))
def test_fixmatch_magnitude_map(level: int) -> None:
    """Written from the reference: _float_parameter(v, max_v) = v * max_v / 10, _int_parameter = int(that)."""
    op = FixMatchRandAugment()
    lv = torch.tensor([level])
    ref = {"Brightness": level * 0.9 / 10 + 0.05, "Color": level * 0.9 / 10 + 0.05,
           "Contrast": level * 0.9 / 10 + 0.05, "Sharpness": level * 0.9 / 10 + 0.05,
           "Posterize": int(level * 4 / 10) + 4, "Rotate": int(level * 30 / 10), "ShearX": level * 0.3 / 10,
           "ShearY": level * 0.3 / 10, "Solarize": 256 - int(level * 256 / 10),
           "TranslateX": int(level * 0.3 / 10 * 32), "TranslateY": int(level * 0.3 / 10 * 28)}
    for name, value in ref.items():
        side = 28 if name == "TranslateY" else 32
        assert float(op.magnitude(name, lv, side)) == pytest.approx(value, abs=1e-12), name


def test_dssl_sampling_with_replacement_signs_and_centres() -> None:
    x = torch.zeros(3000, 3, 32, 32)
    op = DSSLRandAugment(2, 9)
    p = op.sample(x, torch.Generator().manual_seed(0))
    assert p["op"].shape == (3000, 2) and "apply" not in p  # every drawn op is applied
    freq = torch.bincount(p["op"].flatten(), minlength=16).float() / 6000
    assert float((freq - 1 / 16).abs().max()) < 0.015
    assert float((p["op"][:, 0] == p["op"][:, 1]).float().mean()) == pytest.approx(1 / 16, abs=0.015)
    for k, name in enumerate(op.names):
        values = p["value"][p["op"] == k].abs().unique()
        assert values.tolist() == pytest.approx([op.magnitudes[name]]), name
        signs = torch.sign(p["value"][p["op"] == k])
        if name in SIGNED:
            assert abs(float(signs.mean())) < 0.2 and set(signs.tolist()) == {-1.0, 1.0}
        elif op.magnitudes[name] > 0:
            assert bool((signs > 0).all())
    assert float(p["cx"].min()) > 1 and float(p["cx"].max()) <= 32  # np.random.uniform(w): (1, W]
    assert float(p["cy"].min()) > 1 and float(p["cy"].max()) <= 32


def test_fixmatch_levels_ops_and_probability() -> None:
    x = torch.zeros(4000, 3, 32, 32)
    p = FixMatchRandAugment(2, 10).sample(x, torch.Generator().manual_seed(1))
    assert float(p["apply"].float().mean()) == pytest.approx(0.5, abs=0.02)
    assert sorted(p["level"].unique().tolist()) == list(range(1, 10))  # numpy randint(1, m)
    freq = torch.bincount(p["op"].flatten(), minlength=14).float() / 8000
    assert float((freq - 1 / 14).abs().max()) < 0.015
    assert sorted(FixMatchRandAugment(1, 2).sample(x[:50], None)["level"].unique().tolist()) == [1]


def _one_by_one(op, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each sample alone, its slots in order, through run_op (no grouping)."""
    out = []
    for i in range(x.shape[0]):
        xi = x[i:i + 1]
        for j in range(params["op"].shape[1]):
            if "apply" in params and not bool(params["apply"][i, j]):
                continue
            cx = params["cx"][i:i + 1, j] if "cx" in params else None
            cy = params["cy"][i:i + 1, j] if "cy" in params else None
            xi = run_op(op.names[int(params["op"][i, j])], xi, params["value"][i:i + 1, j], cx, cy)
        out.append(xi)
    return torch.cat(out)


@pytest.mark.parametrize("make", [lambda: DSSLRandAugment(3, 9), lambda: FixMatchRandAugment(3, 10)],
                         ids=["dssl", "fixmatch"])
def test_grouped_application_equals_one_by_one(batch: torch.Tensor, make) -> None:
    op = make()
    params = op.sample(batch, torch.Generator().manual_seed(2))
    torch.testing.assert_close(op.apply(batch, params), _one_by_one(op, batch, params), atol=1e-6, rtol=0)


def test_fixmatch_slots_not_applied_are_identity(batch: torch.Tensor) -> None:
    op = FixMatchRandAugment(4, 10)
    params = op.sample(batch, torch.Generator().manual_seed(3))
    params["apply"] = torch.zeros_like(params["apply"])
    assert torch.equal(op.apply(batch, params), batch)


@pytest.mark.parametrize("op", [DSSLRandAugment(2, 9), FixMatchRandAugment(2, 10), DSSLRandAugment(4, 16)],
                         ids=["dssl", "fixmatch", "dssl-4-16"])
def test_properties(batch: torch.Tensor, op) -> None:
    before = batch.clone()
    a = op(batch, torch.Generator().manual_seed(7))
    assert torch.equal(batch, before)  # pure
    assert a.shape == batch.shape and a.dtype == batch.dtype
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    torch.testing.assert_close(a, op(batch, torch.Generator().manual_seed(7)), atol=0, rtol=0)  # seeded
    assert not torch.equal(a, op(batch, torch.Generator().manual_seed(8)))
    assert op(batch[:, :, :, :15]).shape == (*batch.shape[:3], 15)  # non-square, default generator


def test_samples_are_augmented_independently() -> None:
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)).expand(32, 3, 16, 16)
    for op in (DSSLRandAugment(2, 9), FixMatchRandAugment(2, 10)):
        params = op.sample(x, torch.Generator().manual_seed(4))
        assert len({tuple(r) for r in params["op"].tolist()}) > 10  # different samples, different ops
        out = op.apply(x, params)
        assert len({out[i].sum().item() for i in range(32)}) > 10


def test_invalid_arguments() -> None:
    for bad in ({"n": 0}, {"n": 1.5}, {"m": 31}, {"m": -1}):
        with pytest.raises(ValueError):
            DSSLRandAugment(**bad)
    for bad in ({"n": 0}, {"m": 1}, {"m": 11}, {"m": 9.5}):
        with pytest.raises(ValueError):
            FixMatchRandAugment(**bad)
    with pytest.raises(ValueError, match="unknown RandAugment op"):
        run_op("Mirror", torch.zeros(1, 3, 4, 4), torch.zeros(1))


def test_entry_points_resolve() -> None:
    eps = {ep.name: ep for ep in entry_points(group="sslkit.augmentations")}
    assert eps["randaugment-dssl"].load() is randaugment_dssl
    assert eps["randaugment-fixmatch"].load() is randaugment_fixmatch


def test_policy_defaults_and_kwargs() -> None:
    (ra,) = randaugment_dssl(32, 3).ops
    assert isinstance(ra, DSSLRandAugment) and (ra.n, ra.m) == (2, 9.0)
    (ra,) = randaugment_dssl(32, 3, n=8, m=16).ops
    assert (ra.n, ra.m) == (8, 16.0)
    (mixed,) = randaugment_dssl(32, 3, grid_p=0.1).ops
    assert isinstance(mixed, OneOf) and mixed.p == 0.1 and isinstance(mixed.second, GridShuffle)
    assert mixed.second.grid == 4
    (fm,) = randaugment_fixmatch(32, 3, n=5).ops
    assert isinstance(fm, FixMatchRandAugment) and (fm.n, fm.m) == (5, 10)


@pytest.mark.parametrize(("factory", "key"), [(randaugment_dssl, "grid_p"), (randaugment_fixmatch, "m")])
def test_policy_validates_keys(factory, key: str) -> None:
    with pytest.raises(SSLKitError, match=key):
        factory(32, 3, magnitude=9)
    for bad in ({"n": 0}, {"m": 40}, {"n": "x"}):
        with pytest.raises(SSLKitError):
            factory(32, 3, **bad)
    with pytest.raises(SSLKitError):
        factory(32, 2)
    with pytest.raises(SSLKitError):
        randaugment_dssl(32, 3, grid_p=1.5)


@pytest.mark.parametrize("factory", [randaugment_dssl, randaugment_fixmatch])
@pytest.mark.parametrize(("channels", "side"), [(1, 28), (3, 32)])
def test_policy_keeps_the_input_size(factory, channels: int, side: int) -> None:
    policy = factory(side, channels)
    assert isinstance(policy, Policy)
    x = torch.randint(0, 256, (8, channels, side, side), dtype=torch.uint8)
    a = policy(x, torch.Generator().manual_seed(0))
    assert a.shape == (8, channels, side, side) and a.dtype == torch.float32
    torch.testing.assert_close(a, policy(x, torch.Generator().manual_seed(0)), atol=0, rtol=0)


def test_grid_shuffle_instead_of_randaugment() -> None:
    x = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    (op,) = randaugment_dssl(16, 3, grid_p=0.5).ops
    params = op.sample(x, torch.Generator().manual_seed(1))
    assert 0.3 < float(params["second"].float().mean()) < 0.7
    out = op.apply(x, params)
    for i in range(64):  # a grid-shuffled sample keeps its pixels; RandAugment's cannot all be the same
        if bool(params["second"][i]):
            assert torch.equal(out[i].flatten().sort().values, x[i].flatten().sort().values)
    (always,) = randaugment_dssl(16, 3, grid_p=1.0).ops
    out = always(x, torch.Generator().manual_seed(2))
    assert torch.equal(out.flatten(1).sort(dim=1).values, x.flatten(1).sort(dim=1).values)
    assert not torch.equal(out, x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(batch: torch.Tensor) -> None:
    for op in (DSSLRandAugment(3, 9), FixMatchRandAugment(3, 10)):
        params = op.sample(batch, torch.Generator().manual_seed(5))
        cuda = op.apply(batch.cuda(), {k: v.cuda() for k, v in params.items()}).cpu()
        torch.testing.assert_close(cuda, op.apply(batch, params), atol=1e-5, rtol=0)
