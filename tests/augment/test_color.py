"""Colour ops against torchvision.transforms.v2.functional on fixed factors."""

from __future__ import annotations

import itertools

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from sslkit.augment import ColorJitter, RandomGrayscale, Solarize
from sslkit.augment import color as C

POINTWISE_ATOL = 1e-5  # measured: <= 6e-8 for brightness/contrast/saturation, ~2e-6 for hue


def _per_sample(fn, x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return torch.stack([fn(x[i], float(factors[i])) for i in range(x.shape[0])])


@pytest.mark.parametrize(("ours", "ref"), [
    (C.adjust_brightness, TF.adjust_brightness),
    (C.adjust_contrast, TF.adjust_contrast),
    (C.adjust_saturation, TF.adjust_saturation),
])
def test_factor_ops_match_torchvision(batch: torch.Tensor, ours, ref) -> None:
    factors = torch.linspace(0.0, 2.0, batch.shape[0])
    torch.testing.assert_close(ours(batch, factors), _per_sample(ref, batch, factors),
                               atol=POINTWISE_ATOL, rtol=0)


def test_hue_matches_torchvision(batch: torch.Tensor) -> None:
    factors = torch.linspace(-0.5, 0.5, batch.shape[0])
    out = C.adjust_hue(batch, factors)
    torch.testing.assert_close(out, _per_sample(TF.adjust_hue, batch, factors), atol=POINTWISE_ATOL, rtol=0)


def test_hue_on_random_colours() -> None:
    x = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    factors = torch.rand(64, generator=torch.Generator().manual_seed(1)) - 0.5
    out = C.adjust_hue(x, factors)
    torch.testing.assert_close(out, _per_sample(TF.adjust_hue, x, factors), atol=POINTWISE_ATOL, rtol=0)


def test_grayscale_and_solarize_match_torchvision(batch: torch.Tensor) -> None:
    n = batch.shape[0]
    on = {"apply": torch.ones(n, dtype=torch.bool)}
    gray = RandomGrayscale(1.0).apply(batch, on)
    sol = Solarize(1.0, threshold=0.4).apply(batch, on)
    for i in range(n):
        ref = TF.rgb_to_grayscale(batch[i], num_output_channels=3) if batch.shape[1] == 3 else batch[i]
        torch.testing.assert_close(gray[i], ref, atol=POINTWISE_ATOL, rtol=0)
        torch.testing.assert_close(sol[i], TF.solarize(batch[i], 0.4), atol=0, rtol=0)


def test_jitter_matches_torchvision_in_each_sample_order(batch: torch.Tensor) -> None:
    op = ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    n = batch.shape[0]
    params = op.sample(batch, torch.Generator().manual_seed(0))
    perms = torch.tensor(list(itertools.permutations(range(4))))  # all 24 orders
    params["order"] = perms[torch.arange(n) % 24]
    out = op.apply(batch, params)
    refs = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    names = ("brightness", "contrast", "saturation", "hue")
    for i in range(n):
        ref = batch[i]
        for j in params["order"][i].tolist():
            ref = refs[j](ref, float(params[names[j]][i]))
        torch.testing.assert_close(out[i], ref, atol=POINTWISE_ATOL, rtol=0)


def test_jitter_mask_path_equals_index_path(batch: torch.Tensor) -> None:
    """The device path (masks, no host sync) gives the CPU path's result."""
    op = ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
    params = op.sample(batch, torch.Generator().manual_seed(5))
    torch.testing.assert_close(op.apply_masked(batch, params), op.apply_indexed(batch, params),
                               atol=0, rtol=0)


def test_jitter_factor_ranges() -> None:
    op = ColorJitter(0.4, 0.3, 1.5, 0.1, p=0.5)
    p = op.sample(torch.zeros(4000, 3, 1, 1), torch.Generator().manual_seed(0))
    assert 0.6 <= float(p["brightness"].min()) and float(p["brightness"].max()) <= 1.4
    assert 0.7 <= float(p["contrast"].min()) and float(p["contrast"].max()) <= 1.3
    assert 0.0 <= float(p["saturation"].min()) and float(p["saturation"].max()) <= 2.5
    assert -0.1 <= float(p["hue"].min()) < -0.09 and 0.09 < float(p["hue"].max()) <= 0.1
    assert abs(float(p["apply"].float().mean()) - 0.5) < 0.04
    assert (p["order"].sort(dim=1).values == torch.arange(4)).all()
    # Orders differ between samples: all 24 permutations occur.
    assert len({tuple(r) for r in p["order"].tolist()}) == 24
    assert "brightness" not in ColorJitter(0.0, 0.4).sample(torch.zeros(2, 3, 1, 1), None)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_probability_extremes(batch: torch.Tensor, p: float) -> None:
    g = torch.Generator().manual_seed(0)
    for op in (ColorJitter(0.4, 0.4, 0.4, 0.1, p=p), RandomGrayscale(p), Solarize(p)):
        params = op.sample(batch, g)
        assert bool(params["apply"].all()) if p else not bool(params["apply"].any())
    torch.testing.assert_close(ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.0)(batch, g), batch, atol=0, rtol=0)


def test_single_channel_colour_noops(batch: torch.Tensor) -> None:
    if batch.shape[1] != 1:
        pytest.skip("one-channel behaviour")
    f = torch.full((batch.shape[0],), 1.7)
    assert C.adjust_saturation(batch, f) is batch and C.adjust_hue(batch, f / 4) is batch
    on = {"apply": torch.ones(batch.shape[0], dtype=torch.bool)}
    torch.testing.assert_close(RandomGrayscale(1.0).apply(batch, on), batch, atol=0, rtol=0)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        ColorJitter(hue=0.6)
    with pytest.raises(ValueError):
        ColorJitter(brightness=-1)
    with pytest.raises(ValueError):
        RandomGrayscale(1.5)
    with pytest.raises(ValueError):
        Solarize(threshold=2.0)
