"""Turn a uint8 image batch into a method's named views, honouring view lineage.

Roles are produced in dependency order: a role ``derived_from`` another is computed from that
role's *augmented pixels* (view ``i`` from source view ``i``), not from the original image
(DSSL's partial order, RSA's aggressive-from-weak). Normalisation happens last, on every view.
"""

from __future__ import annotations

from typing import Any

import torch

from sslkit import _registry
from sslkit.config import parse_policy_spec
from sslkit.errors import SSLKitError
from sslkit.methods.base import ViewSpec


def _ordered(specs: tuple[ViewSpec, ...]) -> list[ViewSpec]:
    by_role = {s.role: s for s in specs}
    order: list[ViewSpec] = []
    visiting: set[str] = set()

    def visit(spec: ViewSpec) -> None:
        if spec in order:
            return
        if spec.role in visiting:
            raise ValueError(f"view roles form a cycle at {spec.role!r}")
        visiting.add(spec.role)
        if spec.derived_from is not None:
            source = by_role.get(spec.derived_from)
            if source is None:
                raise ValueError(f"view {spec.role!r} is derived from unknown role {spec.derived_from!r}")
            if source.count != spec.count:
                raise ValueError(f"view {spec.role!r} needs as many views as its source {source.role!r}")
            visit(source)
        order.append(spec)

    for spec in specs:
        visit(spec)
    return order


def _view_size(options: dict[str, Any], size: int, view: str) -> int:
    """Pop a view's own ``size`` (pixels) or ``size_ratio`` (of ``size``) from its policy options."""
    if "size" in options and "size_ratio" in options:
        raise SSLKitError(f"view {view}: give size or size_ratio, not both")
    if "size_ratio" in options:
        ratio = options.pop("size_ratio")
        if not (isinstance(ratio, (int, float)) and 0 < ratio <= 1):
            raise SSLKitError(f"view {view}: size_ratio must be in (0, 1], got {ratio!r}")
        return max(1, round(size * ratio))
    if "size" in options:
        value = options.pop("size")
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise SSLKitError(f"view {view}: size must be a positive number of pixels, got {value!r}")
        return value
    return size


class ViewMaker:
    """Builds ``dict[role, list[Tensor]]`` from uint8 batches with one policy per view.

    ``overrides`` maps ``ROLE`` (every view of the role) or ``ROLE.N`` (its N-th view, from 1) to a
    policy spec ``NAME[:k=v,...]``; the more specific key wins, then the role's own default. Any
    view's options may also give its own output side, ``size`` in pixels or ``size_ratio`` of the
    run's image size (multi-crop: ReSSL's five student crops of 224, 192, ..., 96 px).
    """

    def __init__(self, specs: tuple[ViewSpec, ...], size: int, channels: int,
                 mean: tuple[float, ...], std: tuple[float, ...], overrides: dict[str, str] | None = None):
        overrides = dict(overrides or {})
        counts = {s.role: s.count for s in specs}
        valid = set(counts) | {f"{role}.{i}" for role, n in counts.items() for i in range(1, n + 1)}
        unknown = set(overrides) - valid
        if unknown:
            raise SSLKitError(f"--aug names unknown view role(s) {', '.join(sorted(unknown))}; "
                              f"this method's roles: {', '.join(sorted(counts))} (ROLE.N for its N-th view)")
        self.specs = _ordered(specs)
        self.policies: dict[str, list[Any]] = {}
        self.policy_specs: dict[str, str] = {}
        for spec in self.specs:
            built: dict[str, Any] = {}  # identical specs share one (stateless) policy object
            for i, (name, options) in enumerate(spec.per_view(), start=1):
                given = overrides.get(f"{spec.role}.{i}", overrides.get(spec.role))
                if given is not None:
                    name, options = parse_policy_spec(given)
                shown = ",".join(f"{k}={v}" for k, v in options.items())
                text = name + (f":{shown}" if shown else "")
                if text not in built:
                    factory = _registry.load("augmentations", name)
                    view_size = _view_size(options, size, f"{spec.role}.{i}")
                    try:
                        built[text] = factory(size=view_size, channels=channels, **options)
                    except TypeError as error:
                        raise SSLKitError(f"augmentation {name!r} for role {spec.role!r}: {error}") from error
                self.policies.setdefault(spec.role, []).append(built[text])
            self.policy_specs[spec.role] = " | ".join(built)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}  # per device, copied once

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None,
                 memory_format: torch.memory_format = torch.contiguous_format) -> dict[str, list[torch.Tensor]]:
        pixels = images.float().div_(255) if images.dtype == torch.uint8 else images
        raw: dict[str, list[torch.Tensor]] = {}
        for spec in self.specs:
            policies = self.policies[spec.role]
            if spec.derived_from is None:
                raw[spec.role] = [policy(pixels, generator) for policy in policies]
            else:
                raw[spec.role] = [policy(src, generator) for policy, src in zip(policies, raw[spec.derived_from],
                                                                                 strict=True)]
        mean, std = self._on(pixels.device)
        return {role: [((v - mean) / std).contiguous(memory_format=memory_format) for v in vs]
                for role, vs in raw.items()}

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Evaluation transform: uint8 -> float, normalised, no augmentation."""
        pixels = images.float().div_(255)
        mean, std = self._on(pixels.device)
        return (pixels - mean) / std

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std on ``device`` (no host-to-device copy per batch)."""
        if device not in self._stats:
            self._stats[device] = (self.mean.to(device), self.std.to(device))
        return self._stats[device]

    @property
    def views_per_image(self) -> int:
        return sum(s.count for s in self.specs)
