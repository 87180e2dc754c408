"""Hyper-parameters of a network that are not searched: width, depth, input depth, output channels."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from nasdip.errors import NasdipError

ACTIVATIONS = ("none", "relu", "leaky_relu")
PADDINGS = ("reflection", "zero")


@dataclass(frozen=True)
class NetConfig:
    """Fixed (non-searched) network settings.

    Attributes:
        width: channels at every level (the release uses 128).
        depth: number of encoder levels (5 in every released model).
        input_depth: channels of the noise input ``z`` (32 for DIP and NAS-DIP).
        out_channels: image channels (3 for RGB, 1 for grey).
        skip: skip-connection channels of DIP's skip network (4).
        pad: padding of the backbone's convolutions, ``reflection`` (the release) or ``zero``.
        activation: the backbone's activation (``leaky_relu`` with slope 0.2).
        sigmoid: squash the output into [0, 1].
    """

    width: int = 128
    depth: int = 5
    input_depth: int = 32
    out_channels: int = 3
    skip: int = 4
    pad: str = "reflection"
    activation: str = "leaky_relu"
    sigmoid: bool = True

    def __post_init__(self) -> None:
        for name in ("width", "depth", "input_depth", "out_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NasdipError(f"network {name} must be a positive integer, got {value!r}")
        if self.width % 4:
            raise NasdipError(f"network width must be a multiple of 4 (pixel shuffle splits channels in 4), got {self.width}")
        if not isinstance(self.skip, int) or isinstance(self.skip, bool) or self.skip < 0:
            raise NasdipError(f"network skip channels must be an integer >= 0, got {self.skip!r}")
        if not isinstance(self.sigmoid, bool):
            raise NasdipError(f"network sigmoid must be true or false, got {self.sigmoid!r}")
        if self.pad not in PADDINGS:
            raise NasdipError(f"network pad must be one of {', '.join(PADDINGS)}, got {self.pad!r}")
        if self.activation not in ACTIVATIONS:
            raise NasdipError(f"network activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")

    def replace(self, **changes: Any) -> NetConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for run records)."""
        return asdict(self)
