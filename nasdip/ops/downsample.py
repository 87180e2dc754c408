"""The super-resolution operator: anti-aliased bicubic downsampling by an integer factor (kornia).

``downsample(x, s)`` = ``kornia.geometry.transform.resize(x, (H/s, W/s), interpolation="bicubic",
antialias=True, align_corners=False)``: a Gaussian pre-filter (sigma = (s - 1) / 2, reflection padding)
followed by bicubic sampling. nasdip uses this one operator both to make low-resolution images and inside
the fitting loss (the NAS-DIP release made its inputs with Pillow's Lanczos and fitted through a Lanczos-2
kernel, a mismatch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.geometry.transform import resize
from torch import nn


def _check(image: torch.Tensor, factor: int) -> None:
    if image.dim() != 4:
        raise ValueError(f"expected a (N, C, H, W) tensor, got shape {tuple(image.shape)}")
    if factor < 1 or image.shape[-2] % factor or image.shape[-1] % factor:
        raise ValueError(f"image size {tuple(image.shape[-2:])} is not divisible by the factor {factor}")


def downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Anti-aliased bicubic downsampling of ``(N, C, H, W)`` by ``factor`` (H and W divisible by it).

    Example:
        >>> downsample(torch.rand(1, 3, 64, 48), 4).shape
        torch.Size([1, 3, 16, 12])
    """
    _check(image, factor)
    if factor == 1:
        return image
    size = (image.shape[-2] // factor, image.shape[-1] // factor)
    return resize(image, size, interpolation="bicubic", antialias=True, align_corners=False)


def upsample_bicubic(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Plain bicubic upsampling (the super-resolution baseline), clamped to [0, 1]."""
    return F.interpolate(image, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


class Downsample(nn.Module):
    """Module form of :func:`downsample`."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return downsample(image, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"
