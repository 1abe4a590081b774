"""View lineage: derived roles are computed from their source views' pixels."""

from __future__ import annotations

import pytest
import torch

from sslkit.engine.views import ViewMaker
from sslkit.errors import SSLKitError
from sslkit.methods.base import ViewSpec


def test_roles_counts_shapes_and_normalisation() -> None:
    maker = ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 1, (0.5,), (0.25,))
    images = torch.randint(0, 256, (4, 1, 20, 20), dtype=torch.uint8)
    views = maker(images, torch.Generator().manual_seed(0))
    assert list(views) == ["standard"] and len(views["standard"]) == 2
    assert views["standard"][0].shape == (4, 1, 16, 16)
    assert views["standard"][0].min() >= (0 - 0.5) / 0.25 - 1e-6
    assert not torch.equal(views["standard"][0], views["standard"][1])  # independent draws
    assert maker.views_per_image == 2


def test_derived_view_is_computed_from_its_source_pixels() -> None:
    # "weak" with scale 1 and flip_p 0 is the identity on same-size images, so derived == source
    specs = (ViewSpec("copy", 2, "weak", {"scale_min": 1.0, "flip_p": 0.0, "ratio_min": 1.0, "ratio_max": 1.0},
                      derived_from="standard"),
             ViewSpec("standard", 2, "simclr"))
    maker = ViewMaker(specs, 16, 3, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    views = maker(torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8), torch.Generator().manual_seed(0))
    for source, derived in zip(views["standard"], views["copy"], strict=False):
        assert torch.allclose(source, derived, atol=1e-5)


def test_same_generator_seed_same_views() -> None:
    maker = ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 3, (0.5,) * 3, (0.25,) * 3)
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    a = maker(images, torch.Generator().manual_seed(3))
    b = maker(images, torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a["standard"], b["standard"], strict=False))


def test_aug_override_of_unknown_role_is_a_user_error() -> None:
    with pytest.raises(SSLKitError, match="unknown view role"):
        ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 1, (0.5,), (0.25,), {"heavy": "simclr"})


def test_aug_override_changes_the_policy() -> None:
    maker = ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 1, (0.5,), (0.25,), {"standard": "weak:scale_min=0.5"})
    assert maker.policy_specs["standard"] == "weak:scale_min=0.5"


def test_each_view_of_a_role_can_have_its_own_policy() -> None:
    spec = ViewSpec("standard", 2, ("simclr", "weak"), ({"blur_p": 0.5}, {}))
    maker = ViewMaker((spec,), 16, 1, (0.5,), (0.25,))
    assert maker.policy_specs["standard"] == "simclr:blur_p=0.5 | weak"
    assert [p.name for p in maker.policies["standard"]] == ["simclr", "weak"]


def test_aug_override_of_one_view_wins_over_the_role_override() -> None:
    maker = ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 1, (0.5,), (0.25,),
                      {"standard": "weak", "standard.2": "simclr:jitter=0.8"})
    assert maker.policy_specs["standard"] == "weak | simclr:jitter=0.8"
    with pytest.raises(SSLKitError, match="ROLE.N"):
        ViewMaker((ViewSpec("standard", 2, "simclr"),), 16, 1, (0.5,), (0.25,), {"standard.3": "weak"})


def test_a_per_view_policy_tuple_must_match_the_count() -> None:
    with pytest.raises(ValueError, match="exactly 2"):
        ViewSpec("standard", 2, ("simclr", "weak", "weak")).per_view()


def test_a_view_can_have_its_own_output_size() -> None:
    spec = ViewSpec("crops", 3, "weak", ({}, {"size_ratio": 0.5}, {"size": 6}))
    maker = ViewMaker((spec,), 16, 1, (0.5,), (0.25,))
    views = maker(torch.randint(0, 256, (2, 1, 20, 20), dtype=torch.uint8), torch.Generator().manual_seed(0))
    assert [v.shape[-1] for v in views["crops"]] == [16, 8, 6]
    with pytest.raises(SSLKitError, match="size_ratio"):
        ViewMaker((spec,), 16, 1, (0.5,), (0.25,), {"crops.2": "weak:size_ratio=2"})
