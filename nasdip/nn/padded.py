"""Networks that run on any image size: pad the input up to the size the network needs, crop the output back."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.nn.config import NetConfig


class PaddedNet(nn.Module):
    """Runs ``net`` on noise padded up to the size it needs and crops the output back to the input's size.

    The released models crash unless H and W are multiples of 32; this wrapper accepts any size (61x47, ...).
    """

    def __init__(self, net: nn.Module, multiple: int, min_size: int, arch: Arch | None, config: NetConfig) -> None:
        super().__init__()
        self.net = net
        self.multiple = multiple
        self.min_size = min_size
        self.arch = arch
        self.config = config

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the raw network runs at for a ``height x width`` output."""
        return tuple(max(math.ceil(side / self.multiple) * self.multiple, self.min_size) for side in (height, width))

    def window(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Padding ``(left, right, top, bottom)`` of a ``height x width`` input (the output is cropped back)."""
        padded_h, padded_w = self.padded_size(height, width)
        top, left = (padded_h - height) // 2, (padded_w - width) // 2
        return left, padded_w - width - left, top, padded_h - height - top

    def pad(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` padded to the size the raw network runs at (reflected; replicated where reflection cannot)."""
        height, width = z.shape[-2:]
        pads = self.window(height, width)
        if not any(pads):
            return z
        mode = "reflect" if max(pads[:2]) < width and max(pads[2:]) < height else "replicate"
        return F.pad(z, pads, mode=mode)

    def crop(self, out: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The raw network's output ``out`` cropped back to a ``height x width`` input's size."""
        left, _, top, _ = self.window(height, width)
        return out[..., top : top + height, left : left + width]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.crop(self.net(self.pad(z)), *z.shape[-2:])
