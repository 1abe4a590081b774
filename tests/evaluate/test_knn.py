"""Weighted kNN (METHODS.md §0.6) on cases whose answer is known."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sslkit.evaluate.knn import extract_features, knn_accuracy, knn_predict


def reference_predict(bank, bank_labels, queries, num_classes, k, t):
    predictions = []
    for q in queries:
        sims = bank @ q
        top = sims.topk(k)
        scores = torch.zeros(num_classes)
        for s, i in zip(top.values, top.indices, strict=False):
            scores[bank_labels[i]] += torch.exp(s / t)
        predictions.append(scores.argmax())
    return torch.stack(predictions)


def test_matches_a_plain_reference_in_chunks() -> None:
    g = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(300, 16, generator=g), dim=1)
    labels = torch.randint(0, 5, (300,), generator=g)
    queries = F.normalize(torch.randn(50, 16, generator=g), dim=1)
    expected = reference_predict(bank, labels, queries, 5, k=20, t=0.1)
    assert torch.equal(knn_predict(bank, labels, queries, 5, k=20, temperature=0.1, chunk_size=7), expected)


def test_separated_clusters_are_classified_perfectly() -> None:
    centres = torch.eye(4, 8)
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(4).repeat_interleave(50)
    bank = F.normalize(centres[labels] + 0.05 * torch.randn(200, 8, generator=g), dim=1)
    queries = F.normalize(centres[labels] + 0.05 * torch.randn(200, 8, generator=g), dim=1)
    assert knn_accuracy(bank, labels, queries, labels, 4, k=200, temperature=0.1) == 1.0


def test_k_larger_than_bank_and_unlabelled_bank_entries() -> None:
    bank = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]), dim=1)
    labels = torch.tensor([0, 1, -1])  # the unlabelled entry is ignored
    queries = F.normalize(torch.tensor([[1.0, 0.05], [0.1, 1.0]]), dim=1)
    assert knn_accuracy(bank, labels, queries, torch.tensor([0, 1]), 2, k=200) == 1.0


def test_extract_features_normalises() -> None:
    batches = [(torch.ones(3, 2, dtype=torch.uint8), torch.tensor([0, 1, 2]))]
    feats, labels = extract_features(lambda x: x * 3, batches, lambda x: x.float())
    assert torch.allclose(feats.norm(dim=1), torch.ones(3)) and labels.tolist() == [0, 1, 2]
