"""Linear probe (METHODS.md §2.1): both recipes end to end on tiny splits, and on real digits."""

from __future__ import annotations

import pytest
import torch

from sslkit.data.digits import digits
from sslkit.errors import SSLKitError
from sslkit.evaluate import linear
from sslkit.evaluate._training import scaled_milestones, step_factor
from sslkit.evaluate.context import EvalBackbone, EvalContext
from sslkit.evaluate.linear import linear_probe
from sslkit.models import smallcnn
from tests.evaluate._separable import Flatten, context, tiny_smallcnn


def test_fast_recipe_separates_separable_features_perfectly() -> None:
    result = linear_probe(context(Flatten()), seed=0)
    assert result == {"top1": 1.0, "train_top1": 1.0}


def test_paper_recipe_separates_separable_features_perfectly() -> None:
    result = linear_probe(context(Flatten()), seed=0, recipe="paper", epochs=5, batch_size=32)
    assert result["top1"] == 1.0 and result["top1_best"] == 1.0 and result["train_top1"] == 1.0


@pytest.mark.parametrize("recipe", ["fast", "paper"])
def test_same_seed_same_result_and_seeds_differ(recipe: str) -> None:
    ctx = context(tiny_smallcnn())
    options = {"recipe": recipe, "epochs": 3, "batch_size": 16, "lr": 0.5}
    first, again = linear_probe(ctx, 0, **options), linear_probe(ctx, 0, **options)
    other = linear_probe(ctx, 1, **options)
    assert first == again
    assert set(other) == set(first) and all(0.0 <= v <= 1.0 for v in other.values())


def test_global_rng_and_the_frozen_backbone_are_left_alone() -> None:
    module = tiny_smallcnn()
    ctx = context(module)
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    rng = torch.random.get_rng_state()
    linear_probe(ctx, 0, recipe="paper", epochs=2, batch_size=32)
    linear_probe(ctx, 0, epochs=2)
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert all(torch.equal(v, weights[k]) for k, v in module.state_dict().items())  # BN running stats too
    assert not module.training


def test_milestones_scale_with_epochs() -> None:
    assert scaled_milestones(100, 100, (60, 80)) == (60, 80)
    assert scaled_milestones(50, 100, (60, 80)) == (30, 40)
    assert scaled_milestones(10, 100, (60, 80)) == (6, 8)
    assert [step_factor(e, (6, 8)) for e in (0, 5, 6, 7, 8, 9)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_paper_recipe_applies_the_scaled_step_decay(monkeypatch: pytest.MonkeyPatch) -> None:
    factors = []
    real = linear.set_lr
    monkeypatch.setattr(linear, "set_lr", lambda opt, f: (factors.append(f), real(opt, f)))
    linear_probe(context(Flatten(), 2, 2), 0, recipe="paper", epochs=5, lr=1.0)
    assert factors == pytest.approx([1, 1, 1, 0.1, 0.01])  # milestones 60/80 of 100 -> 3/4 of 5


@pytest.mark.parametrize("options", [{"recipe": "slow"}, {"epochs": 0}, {"lr": -1.0}, {"batch_size": 0}])
def test_bad_options_are_user_errors(options: dict) -> None:
    with pytest.raises(SSLKitError, match="fast or paper" if "recipe" in options else "must be positive"):
        linear_probe(context(Flatten(), 1, 1), 0, **options)


def test_unlabelled_train_split_is_a_user_error() -> None:
    ctx = context(Flatten(), 2, 1)
    ctx.train.labels[0] = -1
    with pytest.raises(SSLKitError, match="unlabelled"):
        linear_probe(ctx, 0)


def test_fast_probe_on_digits_with_a_random_smallcnn_is_well_above_chance() -> None:
    train, test = digits(split="train"), digits(split="test")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = smallcnn(1, 8, width=8)
    backbone = EvalBackbone(module, 8, 1, train.info.mean, train.info.std, "random smallcnn")
    ctx = EvalContext(backbone, train, test, device=torch.device("cpu"))
    result = linear_probe(ctx, seed=0)
    assert result["top1"] > 0.5  # 10 classes: chance is 0.1; a random width-8 smallcnn gives about 0.8
