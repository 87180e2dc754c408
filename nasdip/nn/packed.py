"""Packed networks: K networks of one architecture computed as one, side by side along the channels.

Member ``k`` of a packed network owns channels ``[k*C, (k+1)*C)`` of every activation and rows
``[k*n, (k+1)*n)`` of every parameter (dimension 0). Convolutions become grouped convolutions with ``K`` times the
groups (or, where that is slower, one convolution per member on its channel slice), batch norm normalises each
channel on its own (so ``BatchNorm2d(K*C)`` is ``K`` batch norms), and channel-wise layers (padding, activations,
interpolation, pixel shuffle) need no change; concatenations are done member by member. No arithmetic mixes two
members, so each member computes what its own network computes, to float precision, and gradients of a sum of
per-member losses reach each member exactly as its own loss's gradient would.

Only module types known to be channel-wise are packed; anything else (a task's own model, a super-network) raises
:class:`NotPackable`, and callers fit the members one after another instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasdip.errors import NasdipError
from nasdip.nn.cell import GroupedConv2d, Interpolate, SplitStackSum, cpu_fp32
from nasdip.nn.crossscale import CrossScaleNet
from nasdip.nn.padded import PaddedNet
from nasdip.nn.skip import SkipLevel, SkipNet

#: Dense packed convolutions whose input has at most this many pixels run as one grouped convolution, the others
#: as one convolution per member on its channels (see :func:`use_grouped`). 0: never grouped, so that every member
#: computes bit for bit what its own network computes (grouped convolutions add in another order).
GROUPED_MAX_PIXELS = 0


class NotPackable(NasdipError):
    """The model holds a module that packing does not know to be channel-wise."""


def cat_members(tensors: Sequence[torch.Tensor], members: int) -> torch.Tensor:
    """Concatenate packed tensors along the channels member by member: member ``k`` of the result holds member
    ``k`` of each input, in order (``torch.cat`` when ``members`` is 1). Channels-last inputs stay channels-last."""
    if members == 1:
        return torch.cat(list(tensors), dim=1)
    if all(t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
           for t in tensors):
        parts = [t.permute(0, 2, 3, 1).unflatten(3, (members, -1)) for t in tensors]
        return torch.cat(parts, dim=4).flatten(3).permute(0, 3, 1, 2)
    return torch.cat([t.unflatten(1, (members, -1)) for t in tensors], dim=2).flatten(1, 2)


def use_grouped(x: torch.Tensor) -> bool:
    """Whether a packed convolution of input ``x`` runs as one grouped convolution (small feature maps, where
    per-operator overhead dominates) rather than one convolution per member (large ones, where oneDNN's grouped
    kernels are slower than dense ones)."""
    return x.shape[-1] * x.shape[-2] <= GROUPED_MAX_PIXELS


class PackedConv2d(nn.Conv2d):
    """``members`` convolutions of one shape: weights stacked on dimension 0, ``groups`` times ``members``."""

    def __init__(self, convs: Sequence[nn.Conv2d]) -> None:
        first, members = convs[0], len(convs)
        with torch.device("meta"):
            super().__init__(first.in_channels * members, first.out_channels * members, first.kernel_size,
                             first.stride, first.padding, first.dilation, first.groups * members,
                             first.bias is not None, first.padding_mode)
        self.weight = stacked(conv.weight for conv in convs)
        self.bias = None if first.bias is None else stacked(conv.bias for conv in convs)
        self.members = members
        self.member_groups = first.groups
        self.keep_fp32 = isinstance(first, GroupedConv2d)  # a depthwise layer stays fp32 under CPU autocast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convolve = cpu_fp32(self._convolve) if self.keep_fp32 else self._convolve
        return convolve(x)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        if self.member_groups > 1 or self.padding_mode != "zeros" or use_grouped(x):
            return super().forward(x)
        biases = [None] * self.members if self.bias is None else self.bias.chunk(self.members)
        outputs = [F.conv2d(part, weight, bias, self.stride, self.padding, self.dilation, self.member_groups)
                   for part, weight, bias in zip(x.chunk(self.members, 1), self.weight.chunk(self.members),
                                                 biases, strict=True)]
        return torch.cat(outputs, dim=1)


class PackedConvTranspose2d(nn.ConvTranspose2d):
    """``members`` transposed convolutions of one shape (weights ``(C_in, C_out / groups, k, k)`` stacked on
    dimension 0)."""

    def __init__(self, convs: Sequence[nn.ConvTranspose2d]) -> None:
        first, members = convs[0], len(convs)
        with torch.device("meta"):
            super().__init__(first.in_channels * members, first.out_channels * members, first.kernel_size,
                             first.stride, first.padding, first.output_padding, first.groups * members,
                             first.bias is not None, first.dilation, first.padding_mode)
        self.weight = stacked(conv.weight for conv in convs)
        self.bias = None if first.bias is None else stacked(conv.bias for conv in convs)
        self.members = members
        self.member_groups = first.groups

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if self.member_groups > 1 or use_grouped(x):
            return super().forward(x, output_size)
        biases = [None] * self.members if self.bias is None else self.bias.chunk(self.members)
        outputs = [F.conv_transpose2d(part, weight, bias, self.stride, self.padding, self.output_padding,
                                      self.member_groups, self.dilation)
                   for part, weight, bias in zip(x.chunk(self.members, 1), self.weight.chunk(self.members),
                                                 biases, strict=True)]
        return torch.cat(outputs, dim=1)


def stacked(tensors) -> nn.Parameter:
    """One parameter holding the members' tensors stacked on dimension 0."""
    tensors = list(tensors)
    return nn.Parameter(torch.cat([tensor.detach() for tensor in tensors]), requires_grad=tensors[0].requires_grad)


def packed_batch_norm(norms: Sequence[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    """``BatchNorm2d`` over every member's channels (statistics stay per channel, hence per member)."""
    first = norms[0]
    with torch.device("meta"):
        norm = nn.BatchNorm2d(first.num_features * len(norms), first.eps, first.momentum, first.affine,
                              first.track_running_stats)
    if first.affine:
        norm.weight = stacked(n.weight for n in norms)
        norm.bias = stacked(n.bias for n in norms)
    if first.track_running_stats:
        norm.running_mean = torch.cat([n.running_mean for n in norms])
        norm.running_var = torch.cat([n.running_var for n in norms])
        norm.num_batches_tracked = first.num_batches_tracked.clone()
    return norm


class PackedSkipLevel(SkipLevel):
    """A level of DIP's skip network whose skip concatenation keeps members apart."""

    members = 1

    def join(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return cat_members(tensors, self.members)


class PackedSplitStackSum(SplitStackSum):
    """Split-stack-sum that sums each member's own channel chunks."""

    members = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        x = x.reshape(n, self.members, -1, h, w)
        missing = 4 * self.chunk - x.shape[2]
        if missing:
            x = F.pad(x, (0, 0, 0, 0, 0, missing))
        x = x.reshape(n, self.members, 4, self.chunk, h, w).sum(dim=2).reshape(n, self.members * self.chunk, h, w)
        return self.conv(x)


def _swap_class(cls: type[nn.Module]) -> Callable[[Sequence[nn.Module]], nn.Module]:
    """A converter that keeps the module (its children are packed on their own) and switches its class to the
    member-aware ``cls``."""

    def convert(modules: Sequence[nn.Module]) -> nn.Module:
        module = modules[0]
        module.__class__ = cls
        module.members = len(modules)
        return module

    return convert


def _check_links(modules: Sequence[nn.Module]) -> nn.Module:
    if callable(modules[0].links):
        raise NotPackable("a super-network's relaxed links cannot be packed")
    return modules[0]


#: Module types with parameters or channel-mixing code, and how ``K`` of them become one.
CONVERTERS: dict[type, Callable[[Sequence[nn.Module]], nn.Module]] = {
    nn.Conv2d: PackedConv2d,
    GroupedConv2d: PackedConv2d,
    nn.ConvTranspose2d: PackedConvTranspose2d,
    nn.BatchNorm2d: packed_batch_norm,
    SkipLevel: _swap_class(PackedSkipLevel),
    SplitStackSum: _swap_class(PackedSplitStackSum),
    CrossScaleNet: _check_links,
}
#: Module types that treat every channel alike (or only hold other modules): packed as they are.
CHANNELWISE: frozenset[type] = frozenset({
    nn.Sequential, nn.ModuleList, nn.Identity, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.ReflectionPad2d,
    nn.ReplicationPad2d, nn.ZeroPad2d, nn.PixelShuffle, Interpolate, SkipNet, PaddedNet,
})


def check_packable(model: nn.Module) -> None:
    """Raise :class:`NotPackable` naming the first module that packing does not know."""
    for name, module in model.named_modules():
        if type(module) not in CONVERTERS and type(module) not in CHANNELWISE:
            raise NotPackable(f"module {name or 'model'} ({type(module).__name__}) cannot be packed")


def pack_networks(nets: Sequence[nn.Module]) -> nn.Module:
    """One module computing ``len(nets)`` networks of identical structure: input ``(1, K*C_in, H, W)`` (member
    inputs concatenated along the channels) -> ``(1, K*C_out, H, W)``. The networks' current parameters are
    copied into it (the originals are left as they are)."""
    if not nets:
        raise ValueError("nothing to pack")
    structure = [[(name, type(module)) for name, module in net.named_modules()] for net in nets]
    if any(entry != structure[0] for entry in structure[1:]):
        raise NotPackable("the networks to pack differ in structure")
    check_packable(nets[0])
    copies = [copy.deepcopy(net) for net in nets]
    tables = [dict(net.named_modules()) for net in copies]
    for name, kind in reversed(structure[0]):  # children before their parents
        if kind not in CONVERTERS:
            continue
        packed = CONVERTERS[kind]([table[name] for table in tables])
        if name:
            parent, _, child = name.rpartition(".")
            setattr(tables[0][parent] if parent else copies[0], child, packed)
        else:
            copies[0] = packed
    return copies[0]


def member_tensor(tensor: torch.Tensor, members: int, member: int) -> torch.Tensor:
    """Member ``member``'s part of a packed parameter, buffer or gradient (a view)."""
    return tensor.chunk(members)[member]
