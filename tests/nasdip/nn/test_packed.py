"""Packed networks: every layer type of the spaces computes, member by member, what its own network computes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasdip import registry
from nasdip.arch.build import build_network, build_supernetwork
from nasdip.arch.catalog import presets
from nasdip.nn import packed as packing
from nasdip.nn.cell import CELL_DECISIONS, Cell, SplitStackSum, build_cell, cell_allowed
from nasdip.nn.config import NetConfig
from nasdip.nn.layers import conv_bn_act
from nasdip.nn.packed import NotPackable, cat_members, member_tensor, pack_networks

MEMBERS = 3


def compare(make, channels: int, size=(8, 8), tolerance: float = 0.0, channels_last: bool = False,
            bf16: bool = False) -> None:
    """Build ``MEMBERS`` modules with ``make``, pack them and check forward outputs, input gradients and parameter
    gradients member by member: bit for bit, or (``tolerance``) to that relative difference of the whole tensor."""
    torch.manual_seed(0)
    nets = [make() for _ in range(MEMBERS)]
    packed = pack_networks(nets)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    nets = [net.to(memory_format=layout) for net in nets]
    packed = packed.to(memory_format=layout)
    inputs = [torch.randn(1, channels, *size).contiguous(memory_format=layout).requires_grad_() for _ in nets]
    joint = torch.cat([x.detach() for x in inputs], dim=1).contiguous(memory_format=layout).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        outputs = [net(x).float() for net, x in zip(nets, inputs, strict=True)]
        together = packed(joint).float()
    upstream = [torch.randn_like(output) for output in outputs]
    for output, grad in zip(outputs, upstream, strict=True):
        output.backward(grad)
    together.backward(torch.cat(upstream, dim=1))
    def check(a: torch.Tensor, b: torch.Tensor) -> bool:
        a, b = a.detach(), b.detach()
        return torch.equal(a, b) if not tolerance else float((a - b).norm()) <= tolerance * float(b.norm())

    for member, (net, output, x) in enumerate(zip(nets, outputs, inputs, strict=True)):
        assert check(together.chunk(MEMBERS, 1)[member], output)
        assert check(joint.grad.chunk(MEMBERS, 1)[member], x.grad)
        mine_grads, their_grads = [], []
        for mine, theirs in zip(packed.parameters(), net.parameters(), strict=True):
            assert torch.equal(member_tensor(mine.detach(), MEMBERS, member), theirs.detach())
            if theirs.grad is None:  # a block the links leave unused
                assert mine.grad is None
            else:
                mine_grads.append(member_tensor(mine.grad, MEMBERS, member).flatten())
                their_grads.append(theirs.grad.flatten())
        # All of a member's gradients at once: some (biases before batch norm) are rounding noise around 0.
        if their_grads:
            assert check(torch.cat(mine_grads), torch.cat(their_grads))


def buildable_cells() -> list[Cell]:
    cells = [{}]
    for name, choices, _, _ in CELL_DECISIONS:
        cells = [{**c, name: v} for c in cells for v, ok in zip(choices, cell_allowed(name, c), strict=True) if ok]
    return [Cell(**c) for c in cells]


CELLS = [cell for cell in buildable_cells() if cell.activation == "leaky_relu"]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.release_index()}")
def test_every_cell_packs_exactly(cell):
    compare(lambda: build_cell(cell, 8, 8), 8)


@pytest.mark.parametrize("kernel", [1, 3])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", ["reflection", "zero"])
def test_backbone_units_pack_exactly(kernel, stride, pad):
    compare(lambda: nn.Sequential(*conv_bn_act(6, 8, kernel, stride, pad, "leaky_relu")), 6, size=(10, 12))


@pytest.mark.parametrize("channels", [8, 6])
def test_split_stack_sum_packs_exactly(channels):
    compare(lambda: SplitStackSum(channels, 5, 3), channels)


@pytest.mark.parametrize("name", ["dip-skip", "nasdip-sr", "nasdip-denoise", "nasdip-inpaint"])
def test_whole_networks_pack_exactly(name):
    compare(lambda: build_network(presets()[name], NetConfig(width=8)), 32, size=(36, 28))


def test_grouped_convolutions_agree_to_float_tolerance(monkeypatch):
    # One grouped convolution for every member adds in another order: equal to float precision, not bit for bit
    # (measured: relative differences below 1e-6).
    monkeypatch.setattr(packing, "GROUPED_MAX_PIXELS", 10**9)
    compare(lambda: build_network(presets()["nasdip-sr"], NetConfig(width=8)), 32, size=(32, 32), tolerance=1e-5)


def test_bf16_channels_last_agrees_to_bf16_tolerance():
    # CPU batch norm rounds bf16 gradients differently for 8 and 24 channels (measured: relative differences up to
    # 1.0%, about two bf16 roundings).
    compare(lambda: build_network(presets()["dip-skip"], NetConfig(width=8)), 32, size=(32, 32), tolerance=3e-2,
            channels_last=True, bf16=True)


def test_member_concatenation_keeps_members_apart():
    a = torch.arange(2 * 2 * 4, dtype=torch.float32).view(1, 4, 2, 2)  # 2 members x 2 channels
    b = 100 + torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 6, 2, 2)  # 2 members x 3 channels
    expected = torch.cat([a[:, :2], b[:, :3], a[:, 2:], b[:, 3:]], dim=1)
    assert torch.equal(cat_members([a, b], 2), expected)
    last = cat_members([a.contiguous(memory_format=torch.channels_last),
                        b.contiguous(memory_format=torch.channels_last)], 2)
    assert torch.equal(last, expected) and last.is_contiguous(memory_format=torch.channels_last)


def test_packing_copies_parameters_and_leaves_the_networks_alone():
    nets = [build_network(presets()["dip-skip"], NetConfig(width=4)) for _ in range(2)]
    before = [p.clone() for p in nets[1].parameters()]
    packed = pack_networks(nets)
    with torch.no_grad():
        for p in packed.parameters():
            p.add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, nets[1].parameters(), strict=True))
    assert sum(p.numel() for p in packed.parameters()) == 2 * sum(p.numel() for p in nets[0].parameters())


def test_unknown_modules_are_not_packed():
    class Mixer(nn.Module):
        def forward(self, x):
            return x.flip(1)

    with pytest.raises(NotPackable, match=r"module 1 \(Mixer\) cannot be packed"):
        pack_networks([nn.Sequential(nn.Conv2d(2, 2, 1), Mixer()) for _ in range(2)])
    space = registry.get("spaces", "nasdip")
    supernet = build_supernetwork(space, NetConfig(width=8), space.build_supernet(NetConfig(width=8)).arch_logits)
    with pytest.raises(NotPackable):
        pack_networks([supernet, supernet])
    with pytest.raises(NotPackable, match="differ in structure"):
        pack_networks([nn.Sequential(nn.Conv2d(2, 2, 1)), nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU())])
