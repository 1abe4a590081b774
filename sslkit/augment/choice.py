"""Per-sample choice between two ops: DSSL's "0.9 x RandAugment / 0.1 x GridShuffle" heavy view.

METHODS.md §4.4 (DSSL ImageNet SimSiam): each heavy view gets RandAugment(2, 9) with probability
0.9 and a 4 x 4 grid shuffle otherwise, never both. :class:`OneOf` expresses that on a batch: it
draws the choice per sample and runs each op only on the samples that chose it.
"""

from __future__ import annotations

import torch

from sslkit.augment._random import bernoulli, check_probability
from sslkit.augment.base import Op


class OneOf(Op):
    """Per sample, apply ``second`` with probability ``p`` and ``first`` otherwise (never both).

    Args:
        first: The op most samples get.
        second: The op a fraction ``p`` of the samples get instead.
        p: Probability of ``second``.
    """

    def __init__(self, first: Op, second: Op, p: float) -> None:
        self.first, self.second = first, second
        self.p = check_probability("p", p)

    def sample(self, x: torch.Tensor, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """Draw ``second`` (bool ``(B,)``) and both ops' parameters for every sample (prefixed)."""
        params = {"second": bernoulli(x.shape[0], self.p, generator, x.device)}
        params.update({f"first.{k}": v for k, v in self.first.sample(x, generator).items()})
        params.update({f"second.{k}": v for k, v in self.second.sample(x, generator).items()})
        return params

    def apply(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Run each op on its own samples only (index select, one host sync)."""
        out = torch.empty_like(x)
        for name, op, chosen in (("first", self.first, ~params["second"]),
                                 ("second", self.second, params["second"])):
            idx = chosen.nonzero().squeeze(1)
            if idx.numel():
                sub = {k[len(name) + 1:]: v[idx] for k, v in params.items() if k.startswith(name + ".")}
                out.index_copy_(0, idx, op.apply(x[idx], sub))
        return out
