"""DIP's "skip" hourglass with a pluggable upsampling cell (the release's ``skip_search_up`` network).

Level ``i`` maps its input ``x`` to ``merge(concat(skip(x), up(deeper(down(x)))))``:
``down`` = stride-2 3x3 conv, BN, act, 3x3 conv, BN, act; ``skip`` = 1x1 conv, BN, act (``config.skip``
channels); ``merge`` = BN, 3x3 conv, BN, act, 1x1 conv, BN, act. The output is a 1x1 conv and a sigmoid.
With the bilinear cell this is exactly DIP's skip network (2,217,831 parameters at width 128, RGB).
"""

from __future__ import annotations

import torch
from torch import nn

from nasdip.nn.cell import Cell, Upsampler, make_upsampler
from nasdip.nn.config import NetConfig
from nasdip.nn.layers import conv, conv_bn_act

#: DIP's upsampling: plain bilinear interpolation, no transform, no activation.
BILINEAR_CELL = Cell("bilinear", "spatial_first", "identity", 1, "none")


class SkipLevel(nn.Module):
    """One level of the hourglass, holding the deeper levels inside it."""

    def __init__(self, c_in: int, config: NetConfig, cell: Upsampler, deeper: SkipLevel | None) -> None:
        super().__init__()
        width, skip, pad, act = config.width, config.skip, config.pad, config.activation
        self.skip = nn.Sequential(*conv_bn_act(c_in, skip, 1, 1, pad, act)) if skip else None
        self.down = nn.Sequential(*conv_bn_act(c_in, width, 3, 2, pad, act), *conv_bn_act(width, width, 3, 1, pad, act))
        self.deeper = deeper
        self.up = make_upsampler(cell, width, width)
        self.merge = nn.Sequential(
            nn.BatchNorm2d(skip + width),
            *conv_bn_act(skip + width, width, 3, 1, pad, act),
            *conv_bn_act(width, width, 1, 1, pad, act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(x)
        if self.deeper is not None:
            y = self.deeper(y)
        y = self.up(y)
        if self.skip is not None:
            y = self.join([self.skip(x), y])
        return self.merge(y)

    def join(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Concatenate the skip branch and the upsampled path along the channels."""
        return torch.cat(tensors, dim=1)


class SkipNet(nn.Module):
    """DIP's skip network; every upsampler is ``cell`` (a :class:`Cell` or a factory, e.g. a mixed cell)."""

    def __init__(self, config: NetConfig, cell: Upsampler = BILINEAR_CELL) -> None:
        super().__init__()
        level = None
        for i in reversed(range(config.depth)):
            level = SkipLevel(config.input_depth if i == 0 else config.width, config, cell, level)
        self.body = level
        self.head = conv(config.width, config.out_channels, 1, pad=config.pad)
        self.sigmoid = config.sigmoid

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.head(self.body(z))
        return torch.sigmoid(out) if self.sigmoid else out
