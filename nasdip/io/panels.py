"""Captioned side-by-side pictures: images in a row, each with its name (and score) written underneath.

Captions use Pillow's built-in font (no font files needed). Panels too narrow for their caption are enlarged
by an integer factor (nearest neighbour), so the text always fits under its own image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

#: Pixels between panels and around caption text.
GAP = 4
#: Largest enlargement of narrow panels.
MAX_ZOOM = 8


@dataclass(frozen=True)
class Panel:
    """One image, ``(1, C, H, W)`` in [0, 1], and the lines written under it."""

    image: torch.Tensor
    caption: tuple[str, ...] = ()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed bitmap size
        return ImageFont.load_default()


def _to_pil(image: torch.Tensor) -> Image.Image:
    array = (image[0].detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0], "L") if array.shape[-1] == 1 else Image.fromarray(array, "RGB")


def side_by_side(panels: Sequence[Panel]) -> torch.Tensor:
    """The panels in a row on white, ``GAP`` pixels apart, each caption centred underneath in black.

    Returns a ``(1, C, H', W')`` tensor in [0, 1] (8-bit levels). All panels must have the same height and
    channel count.
    """
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    height, channels = panels[0].image.shape[-2], panels[0].image.shape[1]
    if any(p.image.shape[-2] != height or p.image.shape[1] != channels for p in panels):
        raise ValueError("panels must share height and channel count")
    narrowest = min(p.image.shape[-1] for p in panels)
    font = _font(max(10, min(40, round(narrowest / 11))))
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    boxes = [[measure.textbbox((0, 0), line, font=font) for line in p.caption] for p in panels]
    zoom = 1
    for panel, lines in zip(panels, boxes, strict=True):
        needed = max((box[2] - box[0] for box in lines), default=0) + 2 * GAP
        zoom = max(zoom, math.ceil(needed / panel.image.shape[-1]))
    zoom = min(zoom, MAX_ZOOM)
    images = [p.image if zoom == 1 else F.interpolate(p.image.float(), scale_factor=zoom, mode="nearest")
              for p in panels]
    line_height = max((box[3] - min(box[1], 0) for lines in boxes for box in lines), default=0) + 2
    strip = max(len(p.caption) for p in panels) * line_height + (2 * GAP if line_height else 0)
    widths = [image.shape[-1] for image in images]
    mode = "L" if channels == 1 else "RGB"
    white, black = (255, 0) if mode == "L" else ((255, 255, 255), (0, 0, 0))
    canvas = Image.new(mode, (sum(widths) + GAP * (len(images) - 1), height * zoom + strip), white)
    left = 0
    for panel, image, width in zip(panels, images, widths, strict=True):
        canvas.paste(_to_pil(image), (left, 0))
        caption = Image.new(mode, (width, strip), white)  # drawn apart, so a long line is clipped to its panel
        draw = ImageDraw.Draw(caption)
        top = GAP
        for line in panel.caption:
            text_width = draw.textlength(line, font=font)
            draw.text((max(0.0, (width - text_width) / 2), top), line, fill=black, font=font)
            top += line_height
        if strip:
            canvas.paste(caption, (left, height * zoom))
        left += width + GAP
    array = np.asarray(canvas, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if mode == "L" else tensor.permute(2, 0, 1)
    return tensor[None]
