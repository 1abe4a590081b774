"""MoCo v2: Momentum Contrast with an MLP head and stronger augmentation (Chen et al. 2020).

The query encoder ``g(f(.))`` is trained with InfoNCE against the positive key of the other view
from a momentum (EMA) key encoder ``g'(f'(.))`` plus ``K`` negatives from a FIFO queue of past keys
(METHODS.md §3.2). As in the official code, the key encoder is updated *before* the keys are
computed (:meth:`MoCoV2.begin_step`), and the keys of the standard views' loss are enqueued after
the step. A view's query and key are computed on first use, so the asymmetric loss costs one query
and one key forward, as in the official code. Single process: ShuffleBN (which needs several
GPUs) is not applied; the keys of a step are gathered across processes before they are enqueued.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn

from sslkit.losses import infonce_queue
from sslkit.methods.base import Embedding, PairwiseMethod, ViewSpec
from sslkit.methods.quick import quick
from sslkit.models.ema import EMA
from sslkit.models.heads import mlp
from sslkit.models.queue import MemoryQueue


class _LazyEmbedding(Embedding):
    """A view's query (``online``) and key (``target``), each computed on first use and then kept."""

    def __init__(self, query: Callable[[], torch.Tensor], key: Callable[[], torch.Tensor]) -> None:
        self._query, self._key = query, key

    @cached_property
    def online(self) -> torch.Tensor:  # type: ignore[override]
        return self._query()

    @cached_property
    def target(self) -> torch.Tensor:  # type: ignore[override]
        return self._key()


class MoCoV2(PairwiseMethod):
    """MoCo v2: InfoNCE against a momentum encoder's key and a queue of negatives (Chen et al. 2020)."""

    views = (ViewSpec("standard", count=2, policy="simclr"),)
    presets = {
        # The MoCo CIFAR-10 demo (METHODS.md §3.2): ResNet-18 CIFAR stem, K=4096, m=0.99, T=0.1, SGD lr
        # 0.06 at B=512 (0.03 per 256), wd 5e-4, cosine, 800 epochs (kNN 82.6/86.3/88.7 at 200/400/800
        # epochs, asymmetric loss). The demo has a linear fc head; v2's MLP head is used here.
        "paper": {
            "backbone": "resnet18", "epochs": 800, "batch_size": 512, "lr": 0.03,
            "weight_decay": 5e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 0,
            "aug": {"standard": "simclr:scale_min=0.08"},
            "method": {"proj_hidden_dim": 512, "proj_dim": 128, "queue_size": 4096, "temperature": 0.1,
                       "key_momentum": 0.99, "symmetric": False},
        },
        # A CPU recipe in the shape of SimSiam's quick preset (not tuned for MoCo v2).
        "quick": quick(lr=0.06, weight_decay=5e-4,
                       method={"proj_hidden_dim": 512, "proj_dim": 128, "queue_size": 4096, "temperature": 0.1,
                               "key_momentum": 0.99, "symmetric": True}),
    }

    def __init__(
        self,
        backbone: nn.Module,
        proj_hidden_dim: int = 2048,  # ImageNet v2 head: 2048 -> 2048 -> 128, no BN
        proj_dim: int = 128,
        queue_size: int = 65536,  # ImageNet; the CIFAR demo uses 4096
        temperature: float = 0.2,  # ImageNet v2; the CIFAR demo uses 0.1
        key_momentum: float = 0.999,  # ImageNet; the CIFAR demo uses 0.99
        symmetric: bool = False,  # official: one direction; solo-learn: both view orders, averaged
    ) -> None:
        super().__init__(backbone)
        self.temperature, self.key_momentum, self.symmetric = temperature, key_momentum, symmetric
        self.projector = mlp(backbone.num_features, proj_hidden_dim, proj_dim, hidden_bn=False)
        self.key_encoder = EMA([self.backbone, self.projector])  # frozen; updated before each forward
        self.queue = MemoryQueue(proj_dim, queue_size)
        self._keys: list[torch.Tensor] = []  # this step's keys, enqueued in after_step

    def query(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projector(self.backbone(x)), dim=1)  # BxD

    @torch.no_grad()
    def key(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.key_encoder(x), dim=1)  # BxD

    def embed(self, x: torch.Tensor) -> Embedding:
        """The view's query and key, each computed when first read (keys after :meth:`begin_step`)."""
        return _LazyEmbedding(lambda: self.query(x), lambda: self.key(x))

    def pair_loss(self, online: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return infonce_queue(online, target, self.queue.read(), self.temperature)

    def begin_step(self, progress: float) -> None:
        """Official order: the momentum update of the key encoder comes before any key."""
        if self.training:
            self.key_encoder.update([self.backbone, self.projector], self.key_momentum)

    def standard_loss(self, e1: Embedding, e2: Embedding) -> torch.Tensor:
        """InfoNCE of query 1 against key 2 (and the swapped pair, averaged, if ``symmetric``).

        Records the positive keys used here for :meth:`after_step` to enqueue: only the standard
        views' keys enter the queue (a composition's other views, e.g. DSSL's heavy ones, do not).
        """
        if self.symmetric:
            loss = 0.5 * (self.pair_loss(e1.online, e2.target) + self.pair_loss(e2.online, e1.target))
            self._keys = [e2.target, e1.target]
        else:
            loss = self.pair_loss(e1.online, e2.target)
            self._keys = [e2.target]
        return loss

    def monitor_embedding(self, e: Embedding) -> torch.Tensor:
        return e.online.detach()  # the query, as the official code's logits see it

    def after_step(self, progress: float) -> None:
        """Enqueue this step's keys (after the backward pass, which still needed the old queue)."""
        for keys in self._keys:
            self.queue.enqueue(keys)
        self._keys = []
