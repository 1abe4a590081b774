"""The floors a kNN (and linear) result must be read against: raw pixels and a randomly initialised backbone.

Same protocol as ``sslkit eval --protocol knn`` (cosine, k=200, t=0.1, train split as the bank,
test split as queries); with ``--linear`` also the linear probe of ``sslkit eval --protocol linear``
(fast recipe, probe seed 0) on the same features. Usage::

    python benchmarks/knn_floors.py fashion-mnist --backbone smallcnn --backbone-options '{"width": 32}' --linear
"""

from __future__ import annotations

import argparse
import json

import torch

from sslkit.data.loader import BatchLoader
from sslkit.data.open import open_source
from sslkit.engine.build import build_backbone
from sslkit.evaluate.context import EvalBackbone, EvalContext
from sslkit.evaluate.knn import extract_features, knn_accuracy
from sslkit.evaluate.linear import linear_probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--backbone", default="smallcnn")
    parser.add_argument("--backbone-options", default="{}", help="JSON dict of backbone options")
    parser.add_argument("--seeds", type=int, default=3, help="random initialisations to average")
    parser.add_argument("--data-dir")
    parser.add_argument("--linear", action="store_true", help="also the linear probe of each set of features")
    args = parser.parse_args()

    train = open_source(args.dataset, "train", args.data_dir)
    test = open_source(args.dataset, "test", args.data_dir)
    info = train.info
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)

    def batches(source):
        return BatchLoader(source, 1024, shuffle=False, drop_last=False).epoch(0)

    def transform(images):
        return (images.float() / 255 - mean) / std

    def accuracy(features, prepare=transform) -> float:
        with torch.no_grad():
            bank, bank_labels = extract_features(features, batches(train), prepare)
            queries, labels = extract_features(features, batches(test), prepare)
        return knn_accuracy(bank, bank_labels, queries, labels, info.num_classes)

    def linear(module: torch.nn.Module) -> float:
        size = info.size[0] if info.size else 224
        backbone = EvalBackbone(module, size, info.channels, info.mean, info.std, "floor")
        return linear_probe(EvalContext(backbone, train, test, device=torch.device("cpu")), 0)["top1"]

    results = {
        "dataset": args.dataset,
        # pixels standardised with the dataset mean/std, exactly what the backbones are fed
        "raw_pixels": accuracy(lambda x: x.flatten(1)),
        # pixels in [0, 1], not centred (the usual "raw pixel kNN" figure)
        "raw_pixels_unnormalised": accuracy(lambda x: x.flatten(1), lambda x: x.float() / 255),
    }
    if args.linear:
        results["linear_raw_pixels"] = linear(torch.nn.Flatten())
    random_init, random_init_linear = [], []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        size = info.size[0] if info.size else 224
        backbone = build_backbone(args.backbone, info.channels, size, json.loads(args.backbone_options)).eval()
        random_init.append(accuracy(backbone))
        if args.linear:
            random_init_linear.append(linear(backbone))
    results.update(backbone=args.backbone, backbone_options=json.loads(args.backbone_options),
                   random_init=sum(random_init) / len(random_init), random_init_seeds=random_init)
    if args.linear:
        results.update(linear_random_init=sum(random_init_linear) / len(random_init_linear),
                       linear_random_init_seeds=random_init_linear)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
