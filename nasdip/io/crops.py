"""Centre crops of ``(..., H, W)`` image tensors: to a size, to a multiple of a size, to a square."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    import torch


def center_crop(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The centred ``height x width`` window of ``image`` (``(..., H, W)``)."""
    full_h, full_w = image.shape[-2:]
    if height < 1 or width < 1:
        raise NasdipError(f"cannot crop {height}x{width} pixels: a crop needs at least one pixel on each side")
    if height > full_h or width > full_w:
        raise NasdipError(f"cannot crop {height}x{width} from a {full_h}x{full_w} image")
    top, left = (full_h - height) // 2, (full_w - width) // 2
    return image[..., top : top + height, left : left + width]


def crop_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Centre-crop ``image`` so both sides are multiples of ``multiple``."""
    height, width = image.shape[-2:]
    if min(height, width) < multiple:
        raise NasdipError(f"a {height}x{width} image has no centre crop whose sides are multiples of {multiple}")
    return center_crop(image, height - height % multiple, width - width % multiple)


def crop_square(image: torch.Tensor, side: int | None) -> torch.Tensor:
    """Centre crop to ``side x side`` (each side capped at the image's); ``None`` leaves the image whole."""
    if side is None:
        return image
    return center_crop(image, min(side, image.shape[-2]), min(side, image.shape[-1]))
