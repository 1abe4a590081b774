"""The floor a linear probe must beat: logistic regression on standardised raw pixels.

Same splits as ``sslkit eval DATASET --protocol linear`` / ``sslkit transfer RUN DATASET`` (the
dataset's train split trains, its test split scores). Example::

    python benchmarks/linear_floor.py digits          # 90.91 % (the 297 test images of sslkit's split)
    python benchmarks/linear_floor.py fashion-mnist   # 83.47 % (about 2 min on 2 cores)
"""

from __future__ import annotations

import argparse

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sslkit.data.loader import BatchLoader
from sslkit.data.open import open_source


def pixels(dataset: str, split: str, data_dir: str | None):
    source = open_source(dataset, split, data_dir)
    loader = BatchLoader(source, 4096, shuffle=False, drop_last=False)
    images, labels = zip(*loader.epoch(0), strict=True)
    x, y = torch.cat(images), torch.cat(labels)
    keep = y >= 0
    return x[keep].reshape(int(keep.sum()), -1).float().numpy(), y[keep].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--max-iter", type=int, default=5000)
    args = parser.parse_args()
    x, y = pixels(args.dataset, "train", args.data_dir)
    xt, yt = pixels(args.dataset, "test", args.data_dir)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(max_iter=args.max_iter).fit(scaler.transform(x), y)
    top1 = (model.predict(scaler.transform(xt)) == yt).mean()
    print(f"{args.dataset}: logistic regression on standardised raw pixels, test top-1 {100 * top1:.2f} %")


if __name__ == "__main__":
    main()
