"""DSSL: Directional Self-supervised Learning for Heavy Image Augmentations (Bai et al., CVPR 2022).

Heavy augmentations (RandAugment) destroy information, so DSSL orders the views (METHODS.md §4): two
standard views ``s1, s2`` and a heavy view ``h_i`` derived from the pixels of ``s_i``. The base
method's loss ``L_S`` stays on ``(s1, s2)``; an asymmetric loss pulls each heavy view towards its
*own* source view only, with the gradient stopped on the standard side (§4.1):

    L_A = 1/2 [l(h1.online, sg s1.target) + l(h2.online, sg s2.target)]
    L_R = 1/2 [l(s1.online, sg h1.target) + l(s2.online, sg h2.target)]   (released CIFAR code only)
    L   = L_S + (1 - lambda) L_A + lambda L_R

where ``l`` is the base's ``pair_loss``. ``lambda`` (``reverse_weight``) is 0.1 in the released
CIFAR code (``soft_loss_rate``); 0 gives the paper's and the README's ``L_S + L_A`` (the §4.1 FLAG).
``heavy_mode="symmetric"`` is the baseline the paper compares against (§4.6 row "w/ T^"): the same
``(s_i, h_i)`` pairs without a direction, ``L = L_S + 1/2 sum_i 1/2 [l(h_i.online, s_i.target) +
l(s_i.online, h_i.target)]`` with the base's own targets (no extra stop-gradient), so that the
direction is the only difference.

The composition is one mixin over the :class:`~sslkit.methods.base.PairwiseMethod` hooks, so
:func:`directional` turns any pairwise method (a plugin's included) into its DSSL variant. Each of
the four views is embedded once, as its own BN batch (§4.1 step 2), and reused by every term.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, ClassVar

import torch
from torch import nn

from sslkit.methods.barlowtwins import BarlowTwins
from sslkit.methods.base import Embedding, PairwiseMethod, StepOutput, ViewSpec
from sslkit.methods.byol import BYOL
from sslkit.methods.mocov2 import MoCoV2
from sslkit.methods.simclr import SimCLR
from sslkit.methods.simsiam import SimSiam

REVERSE_WEIGHT = 0.1  # lambda = soft_loss_rate of the released CIFAR code (METHODS.md §4.1)
HEAVY_MODES = ("directional", "symmetric")
# The heavy role: DSSL RandAugment(N=2, M=9) applied to each standard view's pixels (§4.4, CIFAR-10).
HEAVY = ViewSpec("heavy", count=2, policy="randaugment-dssl", options={"n": 2, "m": 9}, derived_from="standard")


class Directional(PairwiseMethod):
    """The DSSL composition over a pairwise base method (mixin; build classes with :func:`directional`).

    Args:
        backbone: The shared encoder.
        reverse_weight: ``lambda`` of ``L = L_S + (1 - lambda) L_A + lambda L_R``; ``None`` means
            0.1 (the released CIFAR code); 0 is the paper's ``L_S + L_A``. Directional mode only.
        heavy_mode: ``"directional"`` (DSSL) or ``"symmetric"`` (heavy views treated symmetrically,
            the paper's "w/ T^" baseline).
        **base_options: The base method's constructor options.
    """

    base_defaults: ClassVar[dict[str, Any]] = {}  # the base's constructor defaults this variant changes

    def __init__(self, backbone: nn.Module, *args: Any, reverse_weight: float | None = None,
                 heavy_mode: str = "directional", **base_options: Any) -> None:
        if heavy_mode not in HEAVY_MODES:
            raise ValueError(f"heavy_mode must be one of {', '.join(HEAVY_MODES)}, got {heavy_mode!r}")
        if heavy_mode == "symmetric" and reverse_weight is not None:
            raise ValueError("reverse_weight applies to heavy_mode='directional' only: the symmetric mode "
                             "weighs both directions equally; leave reverse_weight unset")
        weight = REVERSE_WEIGHT if reverse_weight is None else float(reverse_weight)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"reverse_weight must be in [0, 1] (0.1: released CIFAR code, 0: the paper's "
                             f"L_S + L_A), got {reverse_weight}")
        super().__init__(backbone, *args, **{**self.base_defaults, **base_options})
        self.heavy_mode, self.reverse_weight = heavy_mode, weight

    def heavy_losses(self, standard: list[Embedding], heavy: list[Embedding]) -> dict[str, torch.Tensor]:
        """The heavy terms (unweighted): ``loss_heavy`` (L_A, or the symmetric term) and ``loss_reverse``."""
        pairs = list(zip(standard, heavy, strict=True))  # (s_i, h_i): each heavy view with its own source
        if self.heavy_mode == "symmetric":
            both = [0.5 * (self.pair_loss(h.online, s.target) + self.pair_loss(s.online, h.target)) for s, h in pairs]
            return {"loss_heavy": sum(both) / len(both)}
        # sg on the standard side: the heavy view moves towards its source, never the reverse (§4.1)
        losses = {"loss_heavy": sum(self.pair_loss(h.online, s.target.detach()) for s, h in pairs) / len(pairs)}
        if self.reverse_weight > 0:  # skipped at lambda = 0, so no unused target is computed
            losses["loss_reverse"] = sum(self.pair_loss(s.online, h.target.detach()) for s, h in pairs) / len(pairs)
        return losses

    def forward(self, views: dict[str, list[torch.Tensor]], progress: float) -> StepOutput:
        self.begin_step(progress)
        standard = [self.embed(x) for x in views["standard"]]  # s1, s2: each its own BN batch
        heavy = [self.embed(x) for x in views["heavy"]]  # h1, h2, derived from s1, s2 by the engine
        loss_standard = self.standard_loss(*standard)  # L_S: the base method's own loss
        terms = self.heavy_losses(standard, heavy)
        if self.heavy_mode == "symmetric":
            loss = loss_standard + terms["loss_heavy"]
        else:
            loss = loss_standard + (1.0 - self.reverse_weight) * terms["loss_heavy"]
            if "loss_reverse" in terms:
                loss = loss + self.reverse_weight * terms["loss_reverse"]
        logs = {**self.step_logs(progress), "loss_standard": loss_standard.detach(),
                **{name: value.detach() for name, value in terms.items()}}
        return StepOutput(loss=loss, logs=logs, embeddings=self.monitor_embedding(standard[0]))


def directional(base: type[PairwiseMethod], **defaults: Any) -> type[PairwiseMethod]:
    """Build the DSSL variant of a pairwise method: its views plus two heavy views, the DSSL loss.

    Args:
        base: A :class:`PairwiseMethod` subclass with a ``standard`` role of two views.
        **defaults: Constructor defaults of ``base`` that the variant changes (e.g. DSSL-BYOL's
            ``loss="cosine"``); they show in the variant's signature and presets can override them.

    Returns:
        A subclass of ``Directional`` and ``base`` whose constructor accepts ``base``'s options plus
        ``reverse_weight`` and ``heavy_mode``, with ``base``'s presets (the heavy role's policy is
        the :data:`HEAVY` default).

    Raises:
        TypeError: ``base`` is not a pairwise method with two standard views, already has a heavy
            role, or ``defaults`` names an option it does not have.
    """
    if not (isinstance(base, type) and issubclass(base, PairwiseMethod)):
        raise TypeError(f"DSSL composes over a PairwiseMethod subclass, got {base!r}")
    roles = {spec.role: spec for spec in base.views}
    if "standard" not in roles or roles["standard"].count != 2:
        raise TypeError(f"{base.__name__} needs a 'standard' view role of 2 views for DSSL")
    if HEAVY.role in roles:
        raise TypeError(f"{base.__name__} already has a {HEAVY.role!r} view role")
    signature = inspect.signature(base.__init__)
    unknown = sorted(set(defaults) - set(signature.parameters) - {"self", "backbone"})
    if unknown or {"self", "backbone"} & set(defaults):
        raise TypeError(f"{base.__name__} has no option(s) {', '.join(unknown or ['self/backbone'])}")
    params = [p.replace(default=defaults[p.name]) if p.name in defaults else p
              for p in signature.parameters.values()]
    extra = [inspect.Parameter("reverse_weight", inspect.Parameter.KEYWORD_ONLY, default=None,
                               annotation="float | None"),
             inspect.Parameter("heavy_mode", inspect.Parameter.KEYWORD_ONLY, default="directional",
                               annotation="str")]
    params = sorted(params + extra, key=lambda p: p.kind)  # stable: keeps the base's order per kind

    def __init__(self: Directional, backbone: nn.Module, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        Directional.__init__(self, backbone, *args, **kwargs)

    __init__.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    namespace = {"__init__": __init__, "__module__": __name__, "__doc__": f"DSSL over {base.__name__}.",
                 "views": (*base.views, HEAVY), "base_defaults": dict(defaults),
                 "presets": copy.deepcopy(base.presets)}
    return type(f"Directional{base.__name__}", (Directional, base), namespace)


class DSSLSimSiam(directional(SimSiam)):
    """DSSL over SimSiam, as the released CIFAR-10 code (METHODS.md §4.1, §4.5): negative cosine pairs."""

    presets = {
        # METHODS.md §4.5, CIFAR-10 SimSiam+DSSL: ResNet-18 (sslkit's CIFAR-stem ResNet-18 for the
        # kuangliu one), 2-layer projector 2048, predictor 512, B=512, SGD lr 0.03 x B/256, momentum
        # 0.9, wd 5e-4, 800 epochs, 10 warm-up epochs then cosine, predictor lr decayed; heavy view
        # RA(2, 9) (the HEAVY default); lambda 0.1. Deviation: the engine's warm-up is linear per
        # iteration, the code's is an epoch-level lookup (§0.5).
        "paper": {
            "backbone": "resnet18", "epochs": 800, "batch_size": 512, "lr": 0.03,
            "weight_decay": 5e-4, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 10,
            "method": {"proj_dim": 2048, "proj_layers": 2, "pred_hidden_dim": 512, "fix_pred_lr": False},
        },
        # SimSiam's quick recipe unchanged (like with like in the results table), heavy RA(2, 9).
        "quick": copy.deepcopy(SimSiam.presets["quick"]),
    }


class DSSLBYOL(directional(BYOL, loss="cosine", tau_schedule="constant", tau_base=0.99)):
    """DSSL over BYOL, as the released BYOL code (METHODS.md §4.2): negative cosine, constant EMA 0.99.

    With ``reverse_weight=0`` the loss is exactly §4.2's ``1/2 D(o(s1), t(s2)) + 1/2 D(o(s2), t(s1)) +
    1/2 D(o(h1), t(s1)) + 1/2 D(o(h2), t(s2))``; the default 0.1 adds the CIFAR code's reverse term.
    Presets: BYOL's (the paper preset's heavy role is sslkit's addition: §4.5 gives no CIFAR BYOL
    recipe); quick is BYOL's quick recipe, so the results table compares like with like.
    """


class DSSLSimCLR(directional(SimCLR)):
    """DSSL over SimCLR: sslkit's generalisation (METHODS.md §4.3; no code was released).

    ``L_S`` is NT-Xent over the 2B standard views. In ``L_A`` each heavy view is the anchor and its
    own standard view's detached projection the positive, the other samples' detached standard
    projections the in-batch negatives (:meth:`SimCLR.pair_loss`); heavy views are never positives
    for other views (except through the CIFAR code's reverse term, weight ``reverse_weight``).
    Presets: SimCLR's plus the heavy role.
    """


class DSSLMoCoV2(directional(MoCoV2)):
    """DSSL over MoCo v2: sslkit's generalisation (METHODS.md §4.3; no code was released).

    ``L_S`` is MoCo's queue InfoNCE on the standard views. In ``L_A`` each heavy view's query takes
    its own standard view's key as the positive and the queue as negatives. The heavy views' keys are
    never enqueued (only the standard keys of ``L_S`` are). Presets: MoCo v2's plus the heavy role.
    """


class DSSLBarlowTwins(directional(BarlowTwins)):
    """DSSL over Barlow Twins: sslkit's generalisation (METHODS.md §4.3; no code was released).

    ``L_S`` is the cross-correlation loss of the standard views; ``L_A`` is the same loss between
    each heavy view's projection and its own standard view's detached projection, so only the heavy
    side moves. Presets: Barlow Twins' plus the heavy role.
    """
