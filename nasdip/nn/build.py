"""The network builder: architecture document + fixed settings -> a module that runs on any image size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from nasdip.arch import Arch
from nasdip.nn.config import NetConfig

if TYPE_CHECKING:
    from nasdip.space import Space


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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        height, width = z.shape[-2:]
        padded_h, padded_w = self.padded_size(height, width)
        top, left = (padded_h - height) // 2, (padded_w - width) // 2
        pads = (left, padded_w - width - left, top, padded_h - height - top)
        if any(pads):
            mode = "reflect" if max(pads[:2]) < width and max(pads[2:]) < height else "replicate"
            z = F.pad(z, pads, mode=mode)
        out = self.net(z)
        return out[..., top : top + height, left : left + width]


def build_network(arch: Arch, config: NetConfig | None = None) -> PaddedNet:
    """Validate ``arch`` against its space and build it; the result maps ``(N, input_depth, H, W)`` noise to
    ``(N, out_channels, H, W)`` images for any ``H, W``."""
    from nasdip import registry

    config = config or NetConfig()
    space = registry.get("spaces", arch.space)
    arch = space.validate(arch)
    space.check_config(config)
    return PaddedNet(space.build(arch, config), space.multiple(config), space.min_size(config), arch, config)


def build_supernetwork(space: Space, config: NetConfig, arch_logits: nn.ParameterDict) -> PaddedNet:
    """``space``'s super-network sharing ``arch_logits``, wrapped like :func:`build_network` to run on any size.

    Its weights are ``[p for p in net.parameters() if p not in arch_logits]`` (see :func:`weight_parameters`).
    """
    space.check_config(config)
    supernet = space.build_supernet(config, arch_logits)
    return PaddedNet(supernet, space.multiple(config), space.min_size(config), None, config)


def weight_parameters(net: nn.Module, arch_logits: nn.ParameterDict) -> list[nn.Parameter]:
    """The parameters of ``net`` that are not architecture logits."""
    logits = {id(parameter) for parameter in arch_logits.parameters()}
    return [parameter for parameter in net.parameters() if id(parameter) not in logits]


@dataclass(frozen=True)
class NetworkCost:
    """Size and compute of a network at one image size."""

    params: int
    forward_flops: int
    step_flops: int
    height: int
    width: int

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "forward_flops": self.forward_flops, "step_flops": self.step_flops,
                "height": self.height, "width": self.width}


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def network_cost(arch: Arch, config: NetConfig | None = None, size: tuple[int, int] = (256, 256)) -> NetworkCost:
    """Parameters and FLOPs (convolutions and matrix products) of one forward pass, counted on the meta device
    so nothing is allocated, and of one fitting step estimated as 3x forward (backward = input and weight
    gradients). torch's counter is not used for the backward: it overcounts grouped convolutions' gradients
    about 64-fold (depthwise cells would look several times dearer than they are)."""
    from torch.utils.flop_counter import FlopCounterMode

    config = config or NetConfig()
    with torch.device("meta"):
        net = build_network(arch, config)
        z = torch.empty(1, config.input_depth, *size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(z)
    forward = counter.get_total_flops()
    return NetworkCost(count_parameters(net), forward, 3 * forward, *size)
