"""LEWEL's alignment maps and multi-head aligned pooling (METHODS.md §8.1 steps 4-5, §9.1 shapes)."""

from __future__ import annotations

import pytest
import torch

from sslkit.models.aligned_pooling import aligned_pooling, alignment_maps


def reference(features: torch.Tensor, logits: torch.Tensor, heads: int, scale: float, l2norm: bool):
    """Loops written from the formulas: per-pixel L2 norm, per-channel softmax, Y_h = X_h A_h^T."""
    b, c, n = features.shape
    d = logits.shape[1]
    maps = torch.zeros(b, d, n)
    for i in range(b):
        for p in range(n):
            v = logits[i, :, p]
            maps[i, :, p] = v / v.norm().clamp_min(1e-12) if l2norm else v
        for j in range(d):
            e = torch.exp(maps[i, j] / scale)
            maps[i, j] = e / e.sum()
    cg, k = c // heads, d // heads
    pooled = torch.zeros(b, c, k)
    for i in range(b):
        for h in range(heads):
            for m in range(k):
                for ch in range(cg):
                    pooled[i, h * cg + ch, m] = sum(features[i, h * cg + ch, p] * maps[i, h * k + m, p]
                                                    for p in range(n))
    return maps, pooled


def test_shapes_of_the_resnet50_setting_and_maps_are_distributions() -> None:
    torch.manual_seed(0)
    feats = torch.randn(2, 2048, 7, 7).flatten(2)  # B=2, C=2048, 7x7 (§9.1)
    logits = torch.randn(2, 256, 49)
    maps, pooled = aligned_pooling(feats, logits, num_heads=4)
    assert maps.shape == (2, 256, 49)
    assert pooled.shape == (2, 2048, 64)  # K = 256 / 4 aligned embeddings
    assert (maps >= 0).all()
    assert torch.allclose(maps.sum(dim=2), torch.ones(2, 256), atol=1e-5)


@pytest.mark.parametrize(("heads", "scale", "l2norm"), [(1, 1.0, True), (2, 0.5, True), (4, 2.0, False)])
def test_matches_the_loop_reference(heads: int, scale: float, l2norm: bool) -> None:
    torch.manual_seed(heads)
    feats, logits = torch.randn(2, 8, 5), torch.randn(2, 12, 5)
    maps, pooled = aligned_pooling(feats, logits, heads, scale=scale, l2norm=l2norm)
    ref_maps, ref_pooled = reference(feats, logits, heads, scale, l2norm)
    assert torch.allclose(maps, ref_maps, atol=1e-5)
    assert torch.allclose(pooled, ref_pooled, atol=1e-5)


def test_l2norm_makes_maps_invariant_to_the_logit_scale_of_each_pixel() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 8, 6)
    rescaled = logits * torch.rand(2, 1, 6).add(0.5)  # a different positive factor per pixel
    assert torch.allclose(alignment_maps(logits), alignment_maps(rescaled), atol=1e-6)
    assert not torch.allclose(alignment_maps(logits, l2norm=False), alignment_maps(rescaled, l2norm=False))


def test_a_single_position_pools_to_the_feature_itself() -> None:
    feats, logits = torch.randn(3, 8, 1), torch.randn(3, 4, 1)  # a 1x1 map: N = 1
    maps, pooled = aligned_pooling(feats, logits, num_heads=2)
    assert torch.equal(maps, torch.ones(3, 4, 1))
    assert torch.allclose(pooled, feats.expand(3, 8, 2))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="num_heads=3 must divide"):
        aligned_pooling(torch.randn(1, 8, 4), torch.randn(1, 12, 4), num_heads=3)
    with pytest.raises(ValueError, match="num_heads=4 must divide"):
        aligned_pooling(torch.randn(1, 8, 4), torch.randn(1, 6, 4), num_heads=4)
    with pytest.raises(ValueError, match="disagree"):
        aligned_pooling(torch.randn(1, 8, 4), torch.randn(1, 8, 5), num_heads=2)
    with pytest.raises(ValueError, match="scale must be positive"):
        aligned_pooling(torch.randn(1, 8, 4), torch.randn(1, 8, 4), num_heads=2, scale=0.0)
