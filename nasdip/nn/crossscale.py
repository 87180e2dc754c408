"""The NAS-DIP backbone: encoder, decoder and searched cross-scale residual connections (the release's models).

Levels are resolutions: level ``l`` is ``H / 2**l``. Encoder block ``l`` (stride-2 3x3 conv, BN, act, 3x3 conv,
BN, act) takes level ``l`` to ``l + 1``; the noise ``z`` sits at level 0 and ``e1 .. e5`` at levels 1..5.
Decoder level ``L`` (rows ``add1 .. add5`` are levels 0..4) is ``up(previous) + selected sources`` followed by
BN, 3x3 conv, BN, act, 3x3 conv, BN, act, 1x1 conv, BN, act. ``links[L][c]`` selects source ``c`` (``z, e1 ..
e4``) for decoder level ``L``; features are added, so every path ends with ``width`` channels:

* same level: a 1x1 conv, BN, act block per level;
* finer to coarser: a chain of per-level stride-2 3x3 conv, BN, act blocks;
* coarser to finer: a chain of per-level upsampling cells (progressive upsampling).

Each per-level block is one module shared by every path crossing that level. As in the release, every block
exists whatever the links (so parameter counts match it); unused ones receive no gradient.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from nasdip.nn.cell import Cell, Upsampler, make_upsampler
from nasdip.nn.config import NetConfig
from nasdip.nn.layers import conv, conv_bn_act

LEVELS = 5
ROWS = tuple(f"add{r}" for r in range(1, LEVELS + 1))
SOURCES = ("z", "e1", "e2", "e3", "e4")

#: Most parameters of the upsamplers a rewired network keeps for reuse, over all cells seen (the oldest go first).
REWIRE_PARAMETERS = 4_000_000

Links = tuple[tuple[int, ...], ...]
#: A link weight per (decoder level, source): 0/1 for a fixed pattern, a tensor in a super-network.
LinkWeight = Callable[[int, int], "float | torch.Tensor"]


def parse_links(text: str) -> Links:
    """``"10010 11001 01100 00110 00011"`` (rows add1..add5, columns z e1 e2 e3 e4) -> 5x5 tuple."""
    rows = text.split()
    if len(rows) != LEVELS or any(len(row) != LEVELS or set(row) - {"0", "1"} for row in rows):
        raise ValueError(f"expected 5 groups of 5 binary digits, got {text!r}")
    return tuple(tuple(int(bit) for bit in row) for row in rows)


@dataclass
class Encoding:
    """What a :class:`CrossScaleNet` computes from one input before any block its choices change: the encoder's
    levels (``features[0]`` is the input) and, filled in as decoders ask for them, the same-level blocks' outputs
    (key ``(level, level)``) and the finer-to-coarser paths (``(source, level)``, ``level > source``).

    Those blocks are built, and so initialised, before every block that depends on the cell or the links: every
    network of one configuration initialised from one seed (built afresh, or rewired and re-initialised) computes
    the same encoding of one input, and an encoding can be decoded by each of them (training-free scores compute it
    once for many candidates, :mod:`nasdip.fit.untrained`). Its tensors keep their graph when made with gradients.
    """

    features: list[torch.Tensor]
    paths: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)
    #: The coarser-to-finer paths (``(source, level)``, ``level < source``) of the last cell decoded without
    #: gradients, and what they were computed by (the cross-scale upsamplers and their parameters' versions).
    upsampled: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)
    upsampled_by: tuple | None = None


def _count(*modules: nn.Module) -> int:
    """Parameters of ``modules``."""
    return sum(p.numel() for module in modules for p in module.parameters())


class CrossScaleNet(nn.Module):
    """Encoder-decoder with searched cross-scale connections; every upsampler is ``cell``.

    ``links`` is a 5x5 0/1 pattern or, in a super-network, a function giving each link's weight.
    """

    def __init__(self, config: NetConfig, cell: Upsampler, links: Links | LinkWeight) -> None:
        super().__init__()
        width, pad, act = config.width, config.pad, config.activation
        source_channels = [config.input_depth] + [width] * (LEVELS - 1)
        self.links, self.width = links, width
        self.encoders = nn.ModuleList(
            nn.Sequential(*conv_bn_act(c, width, 3, 2, pad, act), *conv_bn_act(width, width, 3, 1, pad, act))
            for c in source_channels
        )
        self.same_level = nn.ModuleList(nn.Sequential(*conv_bn_act(c, width, 1, 1, pad, act)) for c in source_channels)
        self.downs = nn.ModuleList(nn.Sequential(*conv_bn_act(c, width, 3, 2, pad, act)) for c in source_channels[:-1])
        self.cell = cell
        self.cross_ups, self.ups = self._upsamplers(cell)
        self._cells: dict[Cell, tuple[nn.ModuleList, nn.ModuleList, int]] = {}  # rewire's: upsamplers by cell
        self.decoders = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(width),
                *conv_bn_act(width, width, 3, 1, pad, act),
                *conv_bn_act(width, width, 3, 1, pad, act),
                *conv_bn_act(width, width, 1, 1, pad, act),
            )
            for _ in range(LEVELS)
        )
        self.head = conv(width, config.out_channels, 1, pad=pad)
        self.sigmoid = config.sigmoid

    def _upsamplers(self, cell: Upsampler) -> tuple[nn.ModuleList, nn.ModuleList]:
        """The cross-scale and the decoder upsamplers of ``cell``, in the order the network builds them."""
        width = self.width
        return (nn.ModuleList(make_upsampler(cell, width, width) for _ in range(LEVELS - 1)),
                nn.ModuleList(make_upsampler(cell, width, width) for _ in range(LEVELS)))

    def rewire(self, cell: Cell, links: Links) -> None:
        """Become the network of ``cell`` and the fixed ``links`` in place: the links are set and the upsamplers
        swapped (those of a cell seen before are reused; every other block is the same whatever the choices).
        The parameters keep their values: re-initialise them to get a fresh build's (same registration order).
        """
        if callable(self.links) or not isinstance(self.cell, Cell):
            raise TypeError("a super-network cannot be rewired")
        if cell != self.cell:
            cells = self._cells  # cell -> (cross-scale upsamplers, decoder upsamplers, their parameter count)
            if self.cell not in cells:
                cells[self.cell] = (self.cross_ups, self.ups, _count(self.cross_ups, self.ups))
            entry = cells.pop(cell, None)
            if entry is None:
                device = next(self.decoders.parameters()).device
                with torch.random.fork_rng(devices=[]):  # constructing draws weights: leave global state alone
                    ups = tuple(modules.to(device) for modules in self._upsamplers(cell))
                entry = (*ups, _count(*ups))
            cells[cell] = entry  # the most recent last
            while len(cells) > 1 and sum(kept[2] for kept in cells.values()) > REWIRE_PARAMETERS:
                cells.pop(next(iter(cells)))
            self.cross_ups, self.ups, _ = entry
            self.cell = cell
        self.links = links

    @property
    def link_weight(self) -> LinkWeight:
        links = self.links
        return links if callable(links) else (lambda level, source: links[level][source])

    def encode(self, z: torch.Tensor) -> Encoding:
        """The part of the forward pass on ``z`` that no choice of the space changes (see :class:`Encoding`)."""
        features = [z]
        for encoder in self.encoders:
            features.append(encoder(features[-1]))
        return Encoding(features)

    def _upsampled_by(self) -> tuple | None:
        """What the coarser-to-finer paths depend on, to keep them across decodes: a weak reference to the
        cross-scale upsamplers and their parameters' versions; ``None`` where they cannot be kept (gradients on,
        a super-network, or parameters without version counters)."""
        if torch.is_grad_enabled() or callable(self.links):
            return None
        parameters = list(self.cross_ups.parameters())
        if any(p.is_inference() for p in parameters):
            return None
        return (weakref.ref(self.cross_ups), *(p._version for p in parameters))

    def decode(self, encoding: Encoding) -> torch.Tensor:
        """The rest of the forward pass: links, upsamplers, decoder and head (fills ``encoding``'s paths).
        Decoded without gradients, the coarser-to-finer paths are kept with the encoding for the next decode by the
        same, unchanged upsamplers (candidates of one cell, differing in their links)."""
        features, fixed = encoding.features, encoding.paths
        moved: dict[tuple[int, int], torch.Tensor] = {}  # coarser-to-finer paths: they cross the upsamplers
        by = self._upsampled_by()
        if by is not None:
            if encoding.upsampled_by is None or encoding.upsampled_by[0]() is not self.cross_ups or \
                    encoding.upsampled_by[1:] != by[1:]:
                encoding.upsampled, encoding.upsampled_by = {}, by
            moved = encoding.upsampled

        def carry(source: int, level: int) -> torch.Tensor:
            """Source ``source``'s features brought to ``level`` through the shared per-level blocks."""
            if level == source:
                return features[source]
            paths = fixed if level > source else moved
            if (source, level) not in paths:
                if level > source:
                    paths[source, level] = self.downs[level - 1](carry(source, level - 1))
                else:
                    paths[source, level] = self.cross_ups[level](carry(source, level + 1))
            return paths[source, level]

        def same_level(level: int) -> torch.Tensor:
            if (level, level) not in fixed:
                fixed[level, level] = self.same_level[level](features[level])
            return fixed[level, level]

        y = features[LEVELS]
        for level in reversed(range(LEVELS)):
            total = self.ups[level](y)
            for source in range(LEVELS):
                weight = self.link_weight(level, source)
                if not isinstance(weight, torch.Tensor) and not weight:
                    continue
                path = same_level(level) if source == level else carry(source, level)
                total = total + (weight * path if isinstance(weight, torch.Tensor) else path)
            y = self.decoders[level](total)
        out = self.head(y)
        return torch.sigmoid(out) if self.sigmoid else out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(z))
