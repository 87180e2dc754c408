"""Re-initialise a built network from a seed exactly as building it from that seed would (no construction).

Building a network under ``torch.manual_seed(seed)`` draws each convolution's weight and bias (torch's default
initialisation: uniform, Kaiming's bound with ``a = sqrt(5)``, the bias's bound ``1 / sqrt(fan_in)``) in the order
the modules are built; batch norm starts at weight 1, bias 0 and fresh running statistics. :func:`reinitialise`
replays that on the modules of a built network in their registration order, drawing from a CPU generator seeded
like the global one (the same stream), so a network whose modules were registered in the order they were built
gets the weights a fresh build would, bit for bit, on any device. Training-free scores rate thousands of
candidates this way without constructing thousands of modules (:mod:`nasdip.fit.untrained`).

Re-initialising the same network from the same seed again skips the draws it would repeat: the leading
parameters that are the same tensors as last time, unchanged since (their version counters; inference tensors,
which keep none, are always drawn), keep their values, and the generator resumes from its state after them (a
rewired network's blocks before its first swapped one).
"""

from __future__ import annotations

import functools
import math
import weakref

import torch
from torch import nn
from torch.nn import init

#: Module types whose direct parameters :func:`reinitialise` knows how to draw, and layers with none of their own.
_CONV = nn.modules.conv._ConvNd
_NORM = nn.modules.batchnorm._NormBase


def conv_bounds(conv: nn.Module) -> tuple[float, float]:
    """The uniform bounds of torch's default initialisation of a convolution's weight and bias (computed as
    ``reset_parameters`` does, so the draws match it exactly)."""
    return _bounds(tuple(conv.weight.shape))


@functools.lru_cache(maxsize=256)
def _bounds(shape: tuple[int, ...]) -> tuple[float, float]:
    """:func:`conv_bounds` of a weight of ``shape`` (they depend on nothing else)."""
    weight = torch.empty(shape, device="meta")
    fan = init._calculate_correct_fan(weight, "fan_in")
    weight_bound = math.sqrt(3.0) * (init.calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fan))
    fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
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


#: Per network, what its last :func:`reinitialise` drew: the seed and, per drawn tensor in order, a weak reference
#: to it, its version after the draw and the generator's state after it.
_LAST_DRAWS: weakref.WeakKeyDictionary[nn.Module, tuple[int, list[tuple[weakref.ref, int, torch.Tensor]]]] = \
    weakref.WeakKeyDictionary()


@torch.no_grad()
def reinitialise(module: nn.Module, seed: int) -> nn.Module:
    """Give ``module`` the parameters (and batch-norm statistics) a build under ``torch.manual_seed(seed)`` gives
    its modules, in registration order; global random state is left alone. Check :func:`reinitialisable` first."""
    generator = torch.Generator().manual_seed(seed)
    last_seed, last = _LAST_DRAWS.get(module, (None, []))
    kept = 0 if last_seed != seed else None  # draws repeated from last time (None: still counting)
    draws, ones, zeros = [], [], []
    for child in module.modules():
        if isinstance(child, _CONV):
            weight_bound, bias_bound = conv_bounds(child)
            for tensor, bound in ((child.weight, weight_bound), (child.bias, bias_bound)):
                if tensor is None:
                    continue
                index = len(draws)
                if kept is None:
                    if (index < len(last) and last[index][0]() is tensor and not tensor.is_inference()
                            and last[index][1] == tensor._version):
                        draws.append(last[index])
                        continue
                    kept = index
                    if kept:
                        generator.set_state(last[kept - 1][2])
                _draw(tensor, bound, generator)
                version = -1 if tensor.is_inference() else tensor._version  # inference tensors keep none
                draws.append((weakref.ref(tensor), version, generator.get_state()))
        elif isinstance(child, _NORM):
            ones += [t for t in (child.weight, child.running_var) if t is not None]
            zeros += [t for t in (child.bias, child.running_mean, child.num_batches_tracked) if t is not None]
    for tensors, value in ((ones, 1), (zeros, 0)):  # batch norm's reset_parameters, in two calls
        if tensors:
            torch._foreach_zero_(tensors)
            if value:
                torch._foreach_add_(tensors, value)
    _LAST_DRAWS[module] = (seed, draws)
    return module
