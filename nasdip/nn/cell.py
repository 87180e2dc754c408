"""The NAS-DIP upsampling cell: a x2 spatial step and a feature transform, and the release's index encoding.

A cell is five choices:

* ``spatial``: ``bilinear`` | ``bicubic`` | ``nearest`` (interpolation), ``pixel_shuffle`` (depth-to-space,
  channels / 4), ``transposed_conv`` (stride-2 transposed convolution, alone: no transform follows it);
* ``order``: ``spatial_first`` or, for ``pixel_shuffle`` only, ``transform_first`` (transform to 4 x C_out
  channels, then shuffle: sub-pixel convolution);
* ``transform``: ``conv`` | ``transposed_conv`` (stride 1) | ``split_stack_sum`` | ``separable_conv`` |
  ``depthwise_conv`` | ``identity``;
* ``kernel``: 1 | 3 | 5 | 7 (zero "same" padding; the kernel of the lone transposed convolution);
* ``activation``: ``none`` | ``relu`` | ``leaky_relu``, applied after the spatial step and after the transform
  (the identity transform adds none).

:func:`cell_allowed` keeps every combination buildable: no identity after pixel shuffle (channel counts differ),
only identity after the lone transposed convolution, kernel 1 (irrelevant) for identity. That leaves exactly the
321 buildable cells of the release's 324 indices (249-251, pixel shuffle then identity, cannot be built there).
Depthwise convolution uses ``gcd(C_in, C_out)`` groups, so it builds for every channel count (the release
crashes when C_in is not a multiple of C_out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nasdip.errors import ArchError
from nasdip.nn.layers import activation

SPATIAL = ("bilinear", "bicubic", "nearest", "pixel_shuffle", "transposed_conv")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
ORDERS = ("spatial_first", "transform_first")
TRANSFORMS = ("conv", "transposed_conv", "split_stack_sum", "separable_conv", "depthwise_conv", "identity")
KERNELS = (1, 3, 5, 7)
CELL_ACTIVATIONS = ("none", "relu", "leaky_relu")

CELL_DECISIONS: tuple[tuple[str, tuple, str, tuple[str, ...]], ...] = (
    ("spatial", SPATIAL, "x2 spatial step of every upsampler", ()),
    ("order", ORDERS, "transform before the pixel shuffle (sub-pixel conv) or after the spatial step", ("spatial",)),
    ("transform", TRANSFORMS, "feature transform of the cell", ("spatial",)),
    ("kernel", KERNELS, "kernel size of the transform (or of the lone transposed conv)", ("spatial", "transform")),
    ("activation", CELL_ACTIVATIONS, "activation after the spatial step and after the transform", ()),
)
CELL_DECISION_NAMES = tuple(entry[0] for entry in CELL_DECISIONS)

# Release index layout (DIP/NAS/gen_upsample_layer.py of the NAS-DIP release).
_RELEASE_SPATIAL = ("bilinear", "bicubic", "nearest", "pixel_shuffle")
_RELEASE_TRANSFORMS = TRANSFORMS[:5]
RELEASE_INDICES = range(324)


def cell_allowed(decision: str, prior: Mapping[str, object]) -> tuple[bool, ...]:
    """Mask of buildable choices for one cell decision given the earlier cell choices."""
    spatial = prior.get("spatial")
    if decision == "order":
        return (True, spatial == "pixel_shuffle")
    if decision == "transform":
        if spatial == "transposed_conv":
            return tuple(t == "identity" for t in TRANSFORMS)
        if spatial == "pixel_shuffle":
            return tuple(t != "identity" for t in TRANSFORMS)
    if decision == "kernel" and prior.get("transform") == "identity" and spatial != "transposed_conv":
        return tuple(k == 1 for k in KERNELS)
    choices = dict((name, values) for name, values, _, _ in CELL_DECISIONS)[decision]
    return (True,) * len(choices)


@dataclass(frozen=True)
class Cell:
    """One upsampling cell (a canonical, buildable combination of the five choices)."""

    spatial: str
    order: str
    transform: str
    kernel: int
    activation: str

    def __post_init__(self) -> None:
        prior: dict[str, object] = {}
        for name, choices, _, _ in CELL_DECISIONS:
            value = getattr(self, name)
            if value not in choices:
                raise ArchError(f"cell {name}: {value!r} is not a choice ({', '.join(map(str, choices))})")
            if not cell_allowed(name, prior)[choices.index(value)]:
                raise ArchError(f"cell {name}: {value!r} cannot follow {prior}")
            prior[name] = value

    @classmethod
    def from_choices(cls, choices: Mapping[str, object]) -> Cell:
        """The cell part of a space's choices."""
        return cls(**{name: choices[name] for name in CELL_DECISION_NAMES})

    def to_choices(self) -> dict[str, object]:
        """Decision name -> choice."""
        return asdict(self)

    @classmethod
    def from_release_index(cls, index: int) -> Cell:
        """Decode the NAS-DIP release's integer cell encoding (0-323)."""
        if not 0 <= index <= 323:
            raise ArchError(f"release cell index must be in 0-323, got {index}")
        if index >= 312:  # lone transposed convolution
            return cls("transposed_conv", "spatial_first", "identity", KERNELS[(index // 3) % 4], CELL_ACTIVATIONS[index % 3])
        if index >= 252:  # transform first, then pixel shuffle
            rest = index - 252
            return cls("pixel_shuffle", "transform_first", _RELEASE_TRANSFORMS[rest // 12], KERNELS[(rest // 3) % 4],
                       CELL_ACTIVATIONS[rest % 3])
        spatial, rest = _RELEASE_SPATIAL[index // 63], index % 63
        if rest >= 60:
            if spatial == "pixel_shuffle":
                raise ArchError(
                    f"release cell index {index} (pixel shuffle then identity) cannot be built: "
                    f"the shuffle leaves a quarter of the channels"
                )
            return cls(spatial, "spatial_first", "identity", 1, CELL_ACTIVATIONS[rest - 60])
        return cls(spatial, "spatial_first", _RELEASE_TRANSFORMS[rest // 12], KERNELS[(rest // 3) % 4],
                   CELL_ACTIVATIONS[rest % 3])

    def release_index(self) -> int:
        """The release's integer for this cell (every buildable cell has one)."""
        act = CELL_ACTIVATIONS.index(self.activation)
        kernel = KERNELS.index(self.kernel)
        if self.spatial == "transposed_conv":
            return 312 + 3 * kernel + act
        if self.transform == "identity":
            return 63 * _RELEASE_SPATIAL.index(self.spatial) + 60 + act
        rest = 12 * _RELEASE_TRANSFORMS.index(self.transform) + 3 * kernel + act
        if self.order == "transform_first":
            return 252 + rest
        return 63 * _RELEASE_SPATIAL.index(self.spatial) + rest

    def describe(self) -> str:
        """e.g. ``bicubic -> depthwise_conv 5x5 -> leaky_relu``."""
        act = "" if self.activation == "none" else f" -> {self.activation}"
        if self.spatial == "transposed_conv":
            return f"transposed_conv x2 {self.kernel}x{self.kernel}{act} (alone)"
        transform = "identity" if self.transform == "identity" else f"{self.transform} {self.kernel}x{self.kernel}"
        if self.order == "transform_first":
            return f"{transform} (C -> 4C){act} -> pixel_shuffle{act}"
        return f"{self.spatial}{act} -> {transform}{act if self.transform != 'identity' else ''}"


def cpu_fp32(function):
    """Run ``function(x, ...)`` in float32 when CPU autocast is on: oneDNN has no fast bf16 kernels for grouped
    (depthwise) convolutions, which run 2-10x slower than in float32 on CPUs. Elsewhere it runs unchanged."""

    def wrapped(x: torch.Tensor, *args, **kwargs):
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                return function(x.float(), *args, **kwargs)
        return function(x, *args, **kwargs)

    return wrapped


class GroupedConv2d(nn.Conv2d):
    """A grouped convolution that keeps float32 under CPU autocast (see :func:`cpu_fp32`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cpu_fp32(super().forward)(x)


def _phase_weights(mode: str) -> torch.Tensor:
    """``(2, 5)``: output pixel ``2i + r`` of x2 interpolation (``align_corners=False``) as weights on input
    pixels ``i-2 .. i+2``, read off ``F.interpolate`` applied to impulses (so it matches it exactly)."""
    weights = torch.zeros(2, 5, device="cpu")  # on the CPU even while a network is built on the meta device
    for tap in range(5):
        impulse = torch.zeros(1, 1, 1, 16, dtype=torch.float64, device="cpu")
        impulse[..., 6 + tap - 2] = 1.0
        response = F.interpolate(impulse, scale_factor=(1, 2), mode=mode, align_corners=False)
        weights[0, tap], weights[1, tap] = response[0, 0, 0, 12], response[0, 0, 0, 13]
    return weights


def replicate_pad(x: torch.Tensor, amount: int) -> torch.Tensor:
    """``F.pad(x, (amount,) * 4, mode="replicate")`` built from edge slices: the same numbers, and a backward
    that ``torch.compile`` traces (its replication-pad backward rejects the strides a depthwise convolution's
    gradient arrives with)."""
    rows = torch.cat([x[..., :1, :].expand(-1, -1, amount, -1), x, x[..., -1:, :].expand(-1, -1, amount, -1)], -2)
    return torch.cat([rows[..., :1].expand(-1, -1, -1, amount), rows, rows[..., -1:].expand(-1, -1, -1, amount)], -1)


class Interpolate(nn.Module):
    """x2 interpolation (``align_corners=False`` for the smooth modes).

    Bicubic runs as a fixed depthwise 5x5 convolution (replicate padding, the four output phases as channels)
    followed by a pixel shuffle: the same numbers as ``F.interpolate`` to float precision, about twice as fast
    forward and backward on CPUs. ``native=True`` keeps ``F.interpolate`` (the straightforward baseline).
    """

    def __init__(self, mode: str, native: bool = False) -> None:
        super().__init__()
        self.mode = mode
        self.native = native
        if mode == "bicubic":
            phases = _phase_weights(mode)
            kernel = torch.einsum("ri,sj->rsij", phases, phases).reshape(4, 1, 5, 5)
            self.register_buffer("phases", kernel.to(torch.empty(()).device),  # the device networks are built on
                                 persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "bicubic" and not self.native:
            return cpu_fp32(self._bicubic)(x)
        align = None if self.mode == "nearest" else False
        return F.interpolate(x, scale_factor=2, mode=self.mode, align_corners=align)

    def _bicubic(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        weight = self.phases.to(x.dtype).repeat(channels, 1, 1, 1)
        return F.pixel_shuffle(F.conv2d(replicate_pad(x, 2), weight, groups=channels), 2)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def use_native_interpolation(module: nn.Module) -> nn.Module:
    """Switch every :class:`Interpolate` in ``module`` to ``F.interpolate`` (for baselines); returns it."""
    for child in module.modules():
        if isinstance(child, Interpolate):
            child.native = True
    return module


class SplitStackSum(nn.Module):
    """Split channels into 4 chunks, sum them, convolve C/4 -> C_out (channels padded with zeros to 4k)."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.chunk = math.ceil(c_in / 4)
        self.conv = nn.Conv2d(self.chunk, c_out, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = 4 * self.chunk - x.shape[1]
        if missing:
            x = F.pad(x, (0, 0, 0, 0, 0, missing))
        n, _, h, w = x.shape
        return self.conv(x.view(n, 4, self.chunk, h, w).sum(dim=1))


def transform_layer(transform: str, c_in: int, c_out: int, kernel: int) -> nn.Module:
    """The cell's feature transform (no normalisation; bias only where the release has one)."""
    padding = kernel // 2
    if transform == "conv":
        return nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False)
    if transform == "transposed_conv":
        return nn.ConvTranspose2d(c_in, c_out, kernel, stride=1, padding=padding)
    if transform == "split_stack_sum":
        return SplitStackSum(c_in, c_out, kernel)
    if transform == "separable_conv":
        return nn.Sequential(
            GroupedConv2d(c_in, c_in, kernel, padding=padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )
    if transform == "depthwise_conv":
        return GroupedConv2d(c_in, c_out, kernel, padding=padding, groups=math.gcd(c_in, c_out), bias=False)
    if transform == "identity":
        if c_in != c_out:
            raise ValueError(f"identity transform cannot map {c_in} to {c_out} channels")
        return nn.Identity()
    raise ValueError(f"unknown transform {transform!r}")


def build_cell(cell: Cell, c_in: int, c_out: int) -> nn.Sequential:
    """The upsampling module for ``cell``: ``(N, c_in, H, W) -> (N, c_out, 2H, 2W)``."""
    act = cell.activation
    if cell.spatial == "transposed_conv":
        k = cell.kernel
        return nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1), activation(act)
        )
    if cell.order == "transform_first":
        return nn.Sequential(
            transform_layer(cell.transform, c_in, 4 * c_out, cell.kernel), activation(act),
            nn.PixelShuffle(2), activation(act),
        )
    if cell.spatial == "pixel_shuffle":
        spatial, c_mid = nn.PixelShuffle(2), c_in // 4
    else:
        spatial, c_mid = Interpolate(cell.spatial), c_in
    layers = [spatial, activation(act), transform_layer(cell.transform, c_mid, c_out, cell.kernel)]
    if cell.transform != "identity":
        layers.append(activation(act))
    return nn.Sequential(*layers)


#: Something that builds an upsampler ``(c_in, c_out) -> module``: a cell, or a factory such as a mixed cell.
Upsampler = Cell | Callable[[int, int], nn.Module]


def make_upsampler(upsampler: Upsampler, c_in: int, c_out: int) -> nn.Module:
    """Build one upsampling module from a :class:`Cell` or a factory."""
    return build_cell(upsampler, c_in, c_out) if isinstance(upsampler, Cell) else upsampler(c_in, c_out)
