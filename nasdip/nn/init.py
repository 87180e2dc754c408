"""Re-initialise a built network from a seed exactly as building it from that seed would (no construction).

Building a network under ``torch.manual_seed(seed)`` draws each convolution's weight and bias (torch's default
initialisation: uniform, Kaiming's bound with ``a = sqrt(5)``, the bias's bound ``1 / sqrt(fan_in)``) in the order
the modules are built; batch norm starts at weight 1, bias 0 and fresh running statistics. :func:`reinitialise`
replays that on the modules of a built network in their registration order, drawing from a CPU generator seeded
like the global one (the same stream), so a network whose modules were registered in the order they were built
gets the weights a fresh build would, bit for bit, on any device. Training-free scores rate thousands of
candidates this way without constructing thousands of modules (:mod:`nasdip.fit.untrained`).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import init

#: Module types whose direct parameters :func:`reinitialise` knows how to draw, and layers with none of their own.
_CONV = nn.modules.conv._ConvNd
_NORM = nn.modules.batchnorm._NormBase


def conv_bounds(conv: nn.Module) -> tuple[float, float]:
    """The uniform bounds of torch's default initialisation of a convolution's weight and bias (computed as
    ``reset_parameters`` does, so the draws match it exactly)."""
    fan = init._calculate_correct_fan(conv.weight, "fan_in")
    weight_bound = math.sqrt(3.0) * (init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fan))
    fan_in, _ = init._calculate_fan_in_and_fan_out(conv.weight)
    return weight_bound, (1 / math.sqrt(fan_in) if fan_in > 0 else 0.0)


def _draw(tensor: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    """``tensor`` filled from ``U(-bound, bound)`` drawn on the CPU (then copied where the tensor lives)."""
    if tensor.device.type == "cpu":
        tensor.uniform_(-bound, bound, generator=generator)
    else:
        tensor.copy_(torch.empty(tensor.shape, dtype=tensor.dtype).uniform_(-bound, bound, generator=generator))


def reinitialisable(module: nn.Module) -> bool:
    """Whether every parameter of ``module`` belongs to a convolution or a batch norm with torch's default
    initialisation (what :func:`reinitialise` can replay)."""
    for child in module.modules():
        own = next(child.parameters(recurse=False), None) is not None
        if isinstance(child, _CONV):
            if type(child).reset_parameters is not _CONV.reset_parameters:
                return False
        elif isinstance(child, _NORM):
            if type(child).reset_parameters is not _NORM.reset_parameters:
                return False
        elif own:
            return False
    return True


@torch.no_grad()
def reinitialise(module: nn.Module, seed: int) -> nn.Module:
    """Give ``module`` the parameters (and batch-norm statistics) a build under ``torch.manual_seed(seed)`` gives
    its modules, in registration order; global random state is left alone. Check :func:`reinitialisable` first."""
    generator = torch.Generator().manual_seed(seed)
    for child in module.modules():
        if isinstance(child, _CONV):
            weight_bound, bias_bound = conv_bounds(child)
            _draw(child.weight, weight_bound, generator)
            if child.bias is not None:
                _draw(child.bias, bias_bound, generator)
        elif isinstance(child, _NORM):
            child.reset_parameters()
    return module
