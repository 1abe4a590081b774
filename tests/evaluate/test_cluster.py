"""The cluster protocol (METHODS.md §2.4): k-means and head paths, samples, labels, CIFAR-100 superclasses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sslkit.data.base import DatasetInfo, Source
from sslkit.data.cifar import cifar100
from sslkit.errors import SSLKitError
from sslkit.evaluate.cluster import cluster, resolve_labels, samples
from sslkit.evaluate.cluster_metrics import ari, cluster_accuracy, nmi
from sslkit.evaluate.context import EvalBackbone, EvalContext
from sslkit.methods.sacc import SACC
from sslkit.models.smallcnn import smallcnn
from tests.formats import CIFAR100_COARSE_OF_FINE, write_cifar100

# SACC's hard-coded CIFAR-100 superclasses: group i lists its five fine labels (dengxiaozhi/SACC
# cluster.py, ``super_label``, the same list as Contrastive Clustering's).
SACC_SUPER_LABEL = [
    [72, 4, 95, 30, 55], [73, 32, 67, 91, 1], [92, 70, 82, 54, 62], [16, 61, 9, 10, 28], [51, 0, 53, 57, 83],
    [40, 39, 22, 87, 86], [20, 25, 94, 84, 5], [14, 24, 6, 7, 18], [43, 97, 42, 3, 88], [37, 17, 76, 12, 68],
    [49, 33, 71, 23, 60], [15, 21, 19, 31, 38], [75, 63, 66, 64, 34], [77, 26, 45, 99, 79], [11, 2, 35, 46, 98],
    [29, 93, 27, 78, 44], [65, 50, 74, 36, 80], [56, 52, 47, 59, 96], [8, 58, 90, 13, 48], [81, 69, 41, 89, 85],
]


class Pixels(nn.Module):
    """A 'backbone' whose features are the normalised pixels themselves."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def source(labels: torch.Tensor, split: str, seed: int, classes: int = 4, size: int = 4) -> Source:
    """Grey images with faint noise and one bright pixel at the label's position (random for label -1)."""
    g = torch.Generator().manual_seed(seed)
    n = len(labels)
    images = torch.randint(0, 40, (n, 1, size, size), generator=g, dtype=torch.uint8)
    position = torch.where(labels >= 0, labels, torch.randint(0, size * size, (n,), generator=g))
    images.view(n, -1)[torch.arange(n), position] = 255
    info = DatasetInfo("toy", split, tuple(f"class{i}" for i in range(classes)), 1, (size, size), (0.1,), (0.3,))
    return Source(info=info, labels=labels, images=images)


def pixel_context(train: Source, test: Source, method: nn.Module | None = None) -> EvalContext:
    backbone = EvalBackbone(Pixels(16), 4, 1, (0.1,), (0.3,), "pixels", method=method)
    return EvalContext(backbone, train, test, device=torch.device("cpu"))


def classes(n_per: int, k: int = 4) -> torch.Tensor:
    return torch.arange(k).repeat_interleave(n_per)


def test_kmeans_on_features_separable_per_class_scores_one() -> None:
    ctx = pixel_context(source(classes(15), "train", 0), source(classes(5), "test", 1))
    result = cluster(ctx, seed=0)  # no method: auto is k-means with k = 4
    assert set(result) == {"nmi", "acc", "ari", "clusters"} and result["clusters"] == 4.0
    assert result["acc"] == 1.0 and result["ari"] == 1.0 and result["nmi"] == pytest.approx(1.0)
    assert cluster(ctx, seed=0) == result  # deterministic given the seed


def test_samples_are_train_then_test_or_one_split() -> None:
    shuffled = classes(15)[torch.randperm(60, generator=torch.Generator().manual_seed(0))]
    train = Source(info=source(classes(15), "train", 0).info, labels=shuffled,
                   images=source(classes(15), "train", 0).images)  # labels that do not fit the images
    ctx = pixel_context(train, source(classes(5), "test", 1))
    features, labels = samples(ctx, ("train", "test"), "fine")
    assert features.shape == (80, 16) and torch.equal(labels, torch.cat([shuffled, classes(5)]))
    assert cluster(ctx, seed=0, source="kmeans", on="test")["acc"] == 1.0
    assert cluster(ctx, seed=0, source="kmeans", on="train+test")["acc"] < 0.6
    assert cluster(ctx, seed=0, source="kmeans", on="train")["acc"] < 0.6


def test_unlabelled_samples_are_left_out() -> None:
    labels = torch.cat([classes(10), torch.full((25,), -1)])  # STL-10 style: unlabelled images in train
    ctx = pixel_context(source(labels, "train", 0), source(classes(5), "test", 1))
    assert cluster(ctx, seed=0) == {"nmi": pytest.approx(1.0), "acc": 1.0, "ari": 1.0, "clusters": 4.0}
    unlabelled = pixel_context(source(torch.full((6,), -1), "train", 0), source(torch.full((3,), -1), "test", 1))
    with pytest.raises(SSLKitError, match="no labelled sample"):
        cluster(unlabelled, seed=0)


def tiny_sacc() -> SACC:
    torch.manual_seed(0)
    return SACC(smallcnn(1, 8, width=4), num_clusters=3, proj_dim=8).eval()


def test_head_path_is_the_argmax_of_the_cluster_head_on_every_image() -> None:
    method = tiny_sacc()
    train = source(classes(6), "train", 0, size=8)
    test = source(classes(3), "test", 1, size=8)
    ctx = EvalContext(EvalBackbone(method.backbone, 8, 1, (0.1,), (0.3,), "run", method=method), train, test,
                      device=torch.device("cpu"))
    result = cluster(ctx, seed=5)  # auto: SACC has a head
    with torch.no_grad():
        expected = method.cluster_assignments(ctx.prepare(torch.cat([train.images, test.images])))
    labels = torch.cat([train.labels, test.labels])
    assert result == pytest.approx({"nmi": nmi(labels, expected), "acc": cluster_accuracy(labels, expected),
                                    "ari": ari(labels, expected), "clusters": 3.0})
    assert cluster(ctx, seed=6, source="head") == result  # the head does not depend on the seed
    assert cluster(ctx, seed=0, source="kmeans")["clusters"] == 4.0  # k-means asks for the 4 classes


def test_head_without_one_says_what_to_do() -> None:
    ctx = pixel_context(source(classes(3), "train", 0), source(classes(2), "test", 1))
    with pytest.raises(SSLKitError, match=r"sacc.*exported backbone.*--cluster-source kmeans"):
        cluster(ctx, seed=0, source="head")
    with_method = pixel_context(source(classes(3), "train", 0), source(classes(2), "test", 1), method=nn.Linear(2, 2))
    with pytest.raises(SSLKitError, match="Linear has none"):
        cluster(with_method, seed=0, source="head")
    assert cluster(with_method, seed=0)["clusters"] == 4.0  # auto falls back to k-means


@pytest.mark.parametrize(("options", "message"), [
    ({"source": "spectral"}, "unknown cluster source 'spectral'; choose one of auto, head, kmeans"),
    ({"labels": "super"}, "unknown cluster labels"),
    ({"on": "all"}, "choose one of train\\+test, train, test"),
    ({"labels": "coarse"}, "toy has no coarse labels .*--cluster-labels fine"),
])
def test_bad_options_raise(options: dict, message: str) -> None:
    ctx = pixel_context(source(classes(3), "train", 0), source(classes(2), "test", 1))
    with pytest.raises(SSLKitError, match=message):
        cluster(ctx, seed=0, **options)


def test_sacc_superclass_list_is_the_official_cifar100_coarse_labels() -> None:
    """METHODS.md §2.4: SACC's hard-coded 20 groups equal the official ``coarse_labels`` field."""
    sacc = np.full(100, -1)
    for group, fine_labels in enumerate(SACC_SUPER_LABEL):
        sacc[fine_labels] = group
    assert sorted(f for group in SACC_SUPER_LABEL for f in group) == list(range(100))  # a partition
    assert sacc.tolist() == list(CIFAR100_COARSE_OF_FINE)


def test_cifar100_is_clustered_against_its_superclasses(tmp_path) -> None:
    arrays = write_cifar100(tmp_path, n_train=90, n_test=30)
    train, test = cifar100("train", data_dir=tmp_path), cifar100("test", data_dir=tmp_path)
    torch.manual_seed(0)
    backbone = EvalBackbone(smallcnn(3, 32, width=4), 32, 3, train.info.mean, train.info.std, "cnn")
    ctx = EvalContext(backbone, train, test, device=torch.device("cpu"))
    assert resolve_labels(ctx, "auto", ("train", "test")) == "coarse"
    _, labels = samples(ctx, ("train", "test"), "coarse")
    fine = np.concatenate([arrays["train"][1], arrays["test"][1]])
    sacc_groups = {f: group for group, members in enumerate(SACC_SUPER_LABEL) for f in members}
    assert labels.tolist() == [sacc_groups[f] for f in fine.tolist()]  # by index order, as SACC maps them
    coarse = cluster(ctx, seed=0)
    assert coarse["clusters"] == 20.0 and all(0.0 <= coarse[m] <= 1.0 for m in ("nmi", "acc"))
    assert cluster(ctx, seed=0, labels="fine")["clusters"] == 100.0
