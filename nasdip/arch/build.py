"""The network builder: architecture document + fixed settings -> a module that runs on any image size, and what
it costs (parameters, FLOPs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nasdip import registry
from nasdip.nn.config import NetConfig
from nasdip.nn.padded import PaddedNet

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.arch.space import Space


def build_network(arch: Arch, config: NetConfig | None = None) -> PaddedNet:
    """Validate ``arch`` against its space and build it; the result maps ``(N, input_depth, H, W)`` noise to
    ``(N, out_channels, H, W)`` images for any ``H, W``."""
    config = config or NetConfig()
    space = registry.get("spaces", arch.space)
    arch = space.validate(arch)
    space.check_config(config)
    return PaddedNet(space.build(arch, config), space.multiple(config), space.min_size(config), arch, config)


def rebuild_network(net: PaddedNet, arch: Arch) -> bool:
    """Turn ``net`` (built by :func:`build_network`) into ``arch``'s network in place where its space can
    (:meth:`nasdip.arch.space.Space.rebuild`: same space and configuration); ``False`` where it cannot. The
    parameters are left as they were: re-initialise them (:func:`nasdip.nn.init.reinitialise`)."""
    if not isinstance(net, PaddedNet) or net.arch is None or net.arch.space != arch.space:
        return False
    space = registry.get("spaces", arch.space)
    arch = space.validate(arch)
    if not space.rebuild(net.net, arch, net.config):
        return False
    net.arch = arch
    return True


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
    config = config or NetConfig()
    with torch.device("meta"):
        net = build_network(arch, config)
        z = torch.empty(1, config.input_depth, *size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(z)
    forward = counter.get_total_flops()
    return NetworkCost(count_parameters(net), forward, 3 * forward, *size)
