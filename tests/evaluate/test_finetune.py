"""Semi-supervised fine-tuning (METHODS.md §2.3): the subset, the lr rule and the training run."""

from __future__ import annotations

import pytest
import torch

from sslkit.data.base import Source
from sslkit.errors import SSLKitError
from sslkit.evaluate import finetune as finetune_module
from sslkit.evaluate.finetune import finetune, learning_rates, stratified_subset, subset_source
from tests.evaluate._separable import context, separable_source, tiny_smallcnn


def test_stratified_subset_keeps_the_rounded_share_of_every_class() -> None:
    shuffle = torch.randperm(70, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0] * 10 + [1] * 20 + [2] * 35 + [-1] * 5)[shuffle]
    picked = stratified_subset(labels, 0.1, seed=0)
    counts = torch.bincount(labels[picked], minlength=3).tolist()
    assert counts == [1, 2, 4]  # 3.5 rounds up; unlabelled images are never picked
    assert picked.dtype == torch.int64 and torch.equal(picked, picked.sort().values)
    assert len(picked.unique()) == len(picked)


def test_stratified_subset_is_seeded() -> None:
    labels = torch.arange(10).repeat(50)
    assert torch.equal(stratified_subset(labels, 0.1, 3), stratified_subset(labels, 0.1, 3))
    assert not torch.equal(stratified_subset(labels, 0.1, 3), stratified_subset(labels, 0.1, 4))


def test_stratified_subset_extremes() -> None:
    labels = torch.arange(4).repeat(25)
    assert torch.bincount(labels[stratified_subset(labels, 0.001, 0)]).tolist() == [1, 1, 1, 1]  # at least one
    assert torch.equal(stratified_subset(labels, 1.0, 0), torch.arange(100))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_stratified_subset_rejects_fractions_outside_0_1(fraction: float) -> None:
    with pytest.raises(SSLKitError, match=r"\(0, 1\]"):
        stratified_subset(torch.arange(3), fraction, 0)


def test_learning_rates_follow_the_one_vs_ten_percent_rule() -> None:
    assert learning_rates(0.01) == (1e-4, 1.0) and learning_rates(0.005) == (1e-4, 1.0)
    assert learning_rates(0.1) == (0.01, 0.1) and learning_rates(0.02) == (0.01, 0.1)


def test_lazy_subset_source_reads_the_picked_images() -> None:
    source = separable_source(2, 0)
    lazy = Source(info=source.info, labels=source.labels, loader=lambda i: source.images[i])
    indices = torch.tensor([1, 4, 7])
    picked = subset_source(lazy, indices)
    assert len(picked) == 3 and torch.equal(picked.get(1)[0], source.images[4])
    assert torch.equal(subset_source(source, indices).images, source.images[indices])


def test_finetune_leaves_the_original_backbone_and_global_rng_untouched() -> None:
    module = tiny_smallcnn()
    ctx = context(module)
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    rng = torch.random.get_rng_state()
    result = finetune(ctx, 0, fraction=0.5, epochs=2, batch_size=16)
    assert all(torch.equal(v, weights[k]) for k, v in module.state_dict().items())
    assert not module.training
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert result["labelled"] == 60.0 and 0.0 <= result["top1"] <= 1.0


def test_finetune_is_deterministic_given_the_seed() -> None:
    ctx = context(tiny_smallcnn())
    first, again = finetune(ctx, 0, fraction=0.5, epochs=2), finetune(ctx, 0, fraction=0.5, epochs=2)
    other = finetune(ctx, 1, fraction=0.5, epochs=2)
    assert first == again and other != first  # top1 0.283 vs 0.333


def test_batch_is_clipped_to_a_tiny_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = context(tiny_smallcnn())
    sizes = []
    real = ctx.loader
    monkeypatch.setattr(ctx, "loader", lambda split, **kw: (sizes.append(kw.get("batch_size")), real(split, **kw))[1])
    result = finetune(ctx, 0, fraction=0.01, epochs=1)  # 1 image of each of 6 classes, batch 256 -> 6
    assert result["labelled"] == 6.0 and sizes[0] == 6


def test_finetune_applies_the_scaled_step_decay_to_both_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = finetune_module.set_lr
    monkeypatch.setattr(finetune_module, "set_lr", lambda opt, f: (
        calls.append(([group["base_lr"] for group in opt.param_groups], f)), real(opt, f)))
    finetune(context(tiny_smallcnn(), 2, 1), 0, fraction=0.01, epochs=5)
    assert [f for _, f in calls] == pytest.approx([1, 1, 1, 0.1, 0.01])  # 30/40 of 50 -> 3/4 of 5
    assert calls[0][0] == [1e-4, 1.0]


def test_finetune_learns_separable_images() -> None:
    result = finetune(context(tiny_smallcnn()), 0, fraction=1.0, epochs=8, batch_size=30)
    assert result["top1"] > 0.5  # 6 classes: chance is 1/6


@pytest.mark.parametrize("options", [{"epochs": 0}, {"backbone_lr": 0.0}, {"head_lr": -1.0}, {"batch_size": 0},
                                     {"fraction": 2.0}])
def test_bad_options_are_user_errors(options: dict) -> None:
    with pytest.raises(SSLKitError):
        finetune(context(tiny_smallcnn(), 1, 1), 0, **options)
