"""A picture of what an augmentation policy does: original images, standard views, heavy views.

``sslkit augment POLICY DATASET`` draws three rows over ``n`` images of a dataset: the originals,
their standard view (``simclr`` by default) and the policy applied to the standard view's pixels,
the way DSSL and RSA derive their heavy views (DESIGN.md §3, METHODS.md §1.3 ``DerivedViews``).
``--standard none`` draws two rows, the policy applied to the originals (an independent view).
The picture is drawn with PIL alone: small images are enlarged with nearest-neighbour sampling to
about :data:`TILE` pixels so that a 28-px image stays readable, tiles are separated by
:data:`GAP` pixels and each row carries its label on the left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from sslkit import _registry
from sslkit.augment.base import Policy
from sslkit.config import parse_policy_spec
from sslkit.data.loader import resize_center_crop
from sslkit.data.open import open_source
from sslkit.errors import SSLKitError

TILE = 96  # displayed side of a tile, approximately (integer nearest-neighbour enlargement)
GAP = 4  # pixels between tiles and around the grid
PAD = 10  # pixels left and right of the row labels
FONT_SIZE = 14
LABEL_WIDTH = 220  # labels longer than this are wrapped at commas and after colons
BACKGROUND = (255, 255, 255)  # behind the labels
GRID = (150, 150, 150)  # the gaps between tiles: mid grey, so white and black tiles both show their edges
INK = (20, 20, 20)


def build_policy(spec: str, size: int, channels: int) -> Policy:
    """Build the policy named by ``NAME[:k=v,...]`` through the ``sslkit.augmentations`` registry."""
    name, options = parse_policy_spec(spec)
    factory = _registry.load("augmentations", name)
    try:
        return factory(size=size, channels=channels, **options)
    except TypeError as error:
        raise SSLKitError(f"augmentation {name!r}: {error}") from error


def load_images(dataset: str, n: int, *, split: str = "train", image_size: int | None = None,
                data_dir: str | Path | None = None, seed: int = 0) -> torch.Tensor:
    """``n`` images of ``split``, drawn at random with ``seed``, as uint8 ``(N, C, S, S)``.

    Images are brought to ``image_size`` (default: the dataset's native size) the way training
    loads them: shorter side resized, then centre-cropped.
    """
    if n < 1:
        raise SSLKitError(f"--n must be at least 1, got {n}")
    source = open_source(dataset, split, data_dir)
    size = image_size or (source.info.size[0] if source.info.size else None)
    if size is None:
        raise SSLKitError(f"{dataset} has images of different sizes; pass --image-size (e.g. 96)")
    if size < 1:
        raise SSLKitError(f"--image-size must be positive, got {size}")
    picks = torch.randperm(len(source), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    if source.images is not None:
        return resize_center_crop(source.images[picks], size)
    return torch.cat([resize_center_crop(source.get(int(i))[0].unsqueeze(0), size) for i in picks])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType: the bitmap font
        return ImageFont.load_default()


def _wrap(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break ``text`` after ``": "`` and ``","`` so that each line fits ``width`` pixels if it can."""
    pieces, piece = [], ""
    for ch in text:
        piece += ch
        if ch in ",:" or (ch == " " and piece.strip()):
            pieces.append(piece)
            piece = ""
    pieces.append(piece)
    lines = [""]
    for piece in pieces:
        if lines[-1] and font.getlength(lines[-1] + piece) > width:
            lines.append(piece.lstrip())
        else:
            lines[-1] += piece
    return [line.rstrip() for line in lines if line.strip()]


def to_uint8(views: torch.Tensor) -> torch.Tensor:
    """Float ``(N, C, H, W)`` in [0, 1] -> uint8 ``(N, H, W, C)`` for PIL."""
    return views.detach().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)


def draw_grid(rows: Sequence[tuple[str, torch.Tensor]], tile: int = TILE) -> Image.Image:
    """Draw labelled rows of same-sized images into one RGB picture.

    Args:
        rows: ``(label, images)`` pairs; images are float ``(N, C, S, S)`` in [0, 1] (C = 1 or 3),
            the same ``N`` and ``S`` in every row.
        tile: Approximate displayed side: images are enlarged by the integer factor
            ``max(1, round(tile / S))`` with nearest-neighbour sampling.

    Returns:
        The picture: ``GAP + len(rows) * (k*S + GAP)`` pixels high; the label column, then ``N``
        tiles of ``k*S`` pixels separated by ``GAP``.
    """
    if not rows:
        raise ValueError("draw_grid needs at least one row")
    n, _, s, _ = rows[0][1].shape
    if any(images.shape[0] != n or tuple(images.shape[-2:]) != (s, s) for _, images in rows):
        raise ValueError("every row needs the same number of images of the same size")
    side = max(1, round(tile / s)) * s
    font = _font(FONT_SIZE)
    labels = [_wrap(label, font, LABEL_WIDTH) for label, _ in rows]
    label_width = 2 * PAD + max(int(font.getlength(line)) for lines in labels for line in lines)
    canvas = Image.new("RGB", (label_width + GAP + n * (side + GAP), GAP + len(rows) * (side + GAP)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((label_width, 0, canvas.width - 1, canvas.height - 1), fill=GRID)
    line_height = FONT_SIZE + 4
    for r, ((_, images), lines) in enumerate(zip(rows, labels, strict=True)):
        y = GAP + r * (side + GAP)
        text_top = y + (side - line_height * len(lines)) // 2
        for i, line in enumerate(lines):
            draw.text((PAD, text_top + i * line_height), line, fill=INK, font=font)
        for j, pixels in enumerate(to_uint8(images).numpy()):
            image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)  # L or RGB
            canvas.paste(image.resize((side, side), Image.Resampling.NEAREST).convert("RGB"),
                         (label_width + GAP + j * (side + GAP), y))
    return canvas


def draw_views(images: torch.Tensor, standard: Policy | None, heavy: Policy, *, standard_label: str,
               heavy_label: str, seed: int = 0, tile: int = TILE) -> Image.Image:
    """Draw originals, their standard views and heavy views derived from the standard views.

    Args:
        images: uint8 ``(N, C, S, S)`` originals.
        standard: The standard policy (output side ``S``); ``None`` leaves out the standard row
            and applies ``heavy`` to the originals (an independent view, as SACC's strong view).
        heavy: The heavy policy, applied to the standard view's pixels (DSSL's partial order).
        standard_label: The standard policy's spec, shown as ``"standard: <spec>"``.
        heavy_label: The heavy policy's spec, shown as ``"heavy: <spec>"``.
        seed: Seed of the augmentations' random draws.
        tile: Approximate displayed side of a tile.

    Returns:
        The picture (see :func:`draw_grid`).
    """
    generator = torch.Generator().manual_seed(seed)
    pixels = images.float().div(255)
    if standard is None:
        return draw_grid([("original", pixels), (f"heavy: {heavy_label}", heavy(pixels, generator))], tile)
    std = standard(pixels, generator)  # NxCxSxS
    hvy = heavy(std, generator)  # NxCxSxS
    return draw_grid([("original", pixels), (f"standard: {standard_label}", std),
                      (f"heavy: {heavy_label}", hvy)], tile)


def preview(policy: str, dataset: str, out: str | Path, *, n: int = 8, split: str = "train",
            standard: str = "simclr", image_size: int | None = None, seed: int = 0,
            data_dir: str | Path | None = None) -> Path:
    """Write the picture of ``policy`` on ``n`` images of ``dataset`` to ``out``; return its path.

    Args:
        policy: The heavy policy spec ``NAME[:k=v,...]``.
        dataset: Dataset spec, as for ``sslkit pretrain``.
        out: Image file to write (the extension picks the format; PNG recommended).
        n: Number of images (columns).
        split: Dataset split.
        standard: The standard policy spec; ``"none"`` applies ``policy`` to the originals.
        image_size: Side of the views (default: the dataset's native size).
        seed: Seed of the image choice and of the augmentations.
        data_dir: Where to look for the dataset first.

    Returns:
        The path written.

    Raises:
        SSLKitError: Unknown policy or dataset, bad option, or an unwritable output file.
    """
    out = Path(out)
    if out.suffix.lower() not in Image.registered_extensions():
        raise SSLKitError(f"--out {out}: unknown image file extension {out.suffix!r}; use .png")
    images = load_images(dataset, n, split=split, image_size=image_size, data_dir=data_dir, seed=seed)
    size, channels = images.shape[-1], images.shape[1]
    standard_policy = None if standard == "none" else build_policy(standard, size, channels)
    heavy_policy = build_policy(policy, size, channels)
    picture = draw_views(images, standard_policy, heavy_policy, standard_label=standard,
                         heavy_label=policy, seed=seed)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        picture.save(out, optimize=True)
    except OSError as error:
        raise SSLKitError(f"cannot write {out}: {error}") from error
    return out
