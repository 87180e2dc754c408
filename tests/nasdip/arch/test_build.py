"""The network builder: validation and padding on build, super-networks sharing logits, parameter and FLOP counts."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch
from torch import nn

import nasdip
from nasdip import registry
from nasdip.arch.build import (
    NetworkCost,
    build_network,
    build_supernetwork,
    count_parameters,
    network_cost,
    rebuild_network,
    weight_parameters,
)
from nasdip.arch.catalog import presets
from nasdip.arch.document import Arch
from nasdip.arch.space import Decision, Space
from nasdip.errors import ArchError, NasdipError, UnknownNameError
from nasdip.nn.config import NetConfig
from nasdip.nn.padded import PaddedNet
from nasdip.nn.supernet import SuperNet, new_arch_logits

SMALL = NetConfig(width=8, depth=3, input_depth=2)


class TwoConvSpace(Space):
    """A k x k conv (searched k) to ``width`` channels, ReLU, 1x1 conv to the image: costs countable by hand."""

    name = "test-two-conv"
    help = "two convolutions"
    decisions = (Decision("kernel", (1, 3, 5)),)

    def build(self, arch, config):
        k = arch.choices["kernel"]
        return nn.Sequential(nn.Conv2d(config.input_depth, config.width, k, padding=k // 2), nn.ReLU(),
                             nn.Conv2d(config.width, config.out_channels, 1))

    def multiple(self, config):
        return 4


class TwoConvPlugin:
    @nasdip.hookimpl
    def register_spaces(self, register):
        register(TwoConvSpace())


@pytest.fixture
def two_conv(register_plugin):
    """``two_conv(kernel)``: an architecture of the registered two-convolution space."""
    register_plugin(TwoConvPlugin(), "test-two-conv-plugin")
    return lambda kernel: Arch(TwoConvSpace.name, {"kernel": kernel})


def conv_flops(c_in: int, c_out: int, kernel: int, pixels: int) -> int:
    """Multiply-adds of a convolution, counted as two FLOPs each (bias and padding not counted)."""
    return 2 * c_in * c_out * kernel * kernel * pixels


def dip_skip_flops(config: NetConfig, height: int, width: int) -> int:
    """Forward FLOPs of DIP's skip network from its description: per level a 1x1 skip conv, two 3x3 convs at
    half resolution (the first strided), a 3x3 and a 1x1 merge conv; a 1x1 head. Bilinear upsampling and batch
    norm are no convolutions."""
    w, s, total = config.width, config.skip, 0
    for level in range(config.depth):
        c_in = config.input_depth if level == 0 else w
        pixels = (height >> level) * (width >> level)
        below = (height >> (level + 1)) * (width >> (level + 1))
        total += conv_flops(c_in, s, 1, pixels) if s else 0
        total += conv_flops(c_in, w, 3, below) + conv_flops(w, w, 3, below)
        total += conv_flops(s + w, w, 3, pixels) + conv_flops(w, w, 1, pixels)
    return total + conv_flops(w, config.out_channels, 1, height * width)


# -- build_network -------------------------------------------------------------------------------------------


def test_build_network_wraps_the_spaces_module_with_its_padding_rule(two_conv):
    arch = two_conv(3)
    net = build_network(arch, SMALL)
    assert isinstance(net, PaddedNet) and isinstance(net.net, nn.Sequential)
    assert (net.multiple, net.min_size) == (4, 8) and net.arch == arch and net.config == SMALL
    assert net.padded_size(5, 9) == (8, 12)
    assert net(torch.rand(1, 2, 5, 9)).shape == (1, 3, 5, 9)


def test_build_network_uses_the_default_settings_without_a_config(two_conv):
    net = build_network(two_conv(1))
    assert net.config == NetConfig()
    assert net.net[0].in_channels == 32 and net.net[0].out_channels == 128 and net.net[2].out_channels == 3


def test_build_network_keeps_the_canonical_form_of_the_architecture():
    preset = presets()["nasdip-denoise"]
    shuffled = Arch("nasdip", dict(reversed(list(preset.choices.items()))), name="mine")
    with torch.device("meta"):
        net = build_network(shuffled, NetConfig(width=8))
    space = registry.get("spaces", "nasdip")
    assert net.arch == preset and net.arch.name == "mine"
    assert list(net.arch.choices) == [decision.name for decision in space.decisions]


def test_build_network_refuses_an_invalid_architecture():
    choices = {**presets()["nasdip-sr"].choices, "kernel": 4}
    with pytest.raises(ArchError, match=r"^arch\.choices\.kernel: 4 is not a choice \(choose from 1, 3, 5, 7\)$"):
        build_network(Arch("nasdip", choices), NetConfig(width=8))


def test_build_network_refuses_settings_the_space_cannot_build():
    with pytest.raises(NasdipError, match=r"^space 'nasdip' has a fixed depth of 5 levels, got depth 4$"):
        build_network(presets()["nasdip-sr"], NetConfig(width=8, depth=4))


def test_build_network_of_an_unknown_space_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"^unknown search space 'nope'; available: cross-scale, dip, nasdip, "):
        build_network(Arch("nope", {}), SMALL)


# -- build_supernetwork and weight_parameters ----------------------------------------------------------------


@pytest.fixture
def cell_space():
    return registry.get("spaces", "upsample-cell")


def logits_of(space) -> nn.ParameterDict:
    """Fresh zero logits, one vector per decision of ``space``."""
    return new_arch_logits(space.decisions)


def test_supernetwork_shares_the_logits_it_is_given_and_names_no_architecture(cell_space):
    logits = logits_of(cell_space)
    with torch.device("meta"):
        first = build_supernetwork(cell_space, SMALL, logits)
        second = build_supernetwork(cell_space, SMALL, logits)
    assert isinstance(first.net, SuperNet) and first.net.arch_logits is logits and second.net.arch_logits is logits
    first_weights = {id(p) for p in weight_parameters(first, logits)}
    assert first_weights and not first_weights & {id(p) for p in weight_parameters(second, logits)}
    assert first.arch is None and (first.multiple, first.min_size) == (8, 16)
    assert set(logits) == {decision.name for decision in cell_space.decisions}


def test_supernetwork_runs_on_any_size_and_trains_its_logits(cell_space):
    torch.manual_seed(0)
    config = NetConfig(width=4, depth=1, input_depth=2)
    logits = logits_of(cell_space)
    net = build_supernetwork(cell_space, config, logits)
    assert net.padded_size(7, 5) == (8, 6)
    out = net(torch.rand(1, 2, 7, 5))
    assert out.shape == (1, 3, 7, 5) and out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in logits.values())


def test_supernetwork_refuses_settings_the_space_cannot_build():
    nasdip_space = registry.get("spaces", "nasdip")
    logits = logits_of(nasdip_space)
    with pytest.raises(NasdipError, match=r"^space 'nasdip' has a fixed depth of 5 levels, got depth 3$"):
        build_supernetwork(nasdip_space, SMALL, logits)


def test_a_space_without_a_supernetwork_says_so():
    with pytest.raises(NasdipError, match=r"^search space 'dip' has no super-network for differentiable search$"):
        build_supernetwork(registry.get("spaces", "dip"), SMALL, nn.ParameterDict())


def test_weight_parameters_are_all_parameters_but_the_logits(cell_space):
    logits = logits_of(cell_space)
    with torch.device("meta"):
        net = build_supernetwork(cell_space, SMALL, logits)
    weights = weight_parameters(net, logits)
    logit_ids = {id(p) for p in logits.values()}
    assert {id(p) for p in weights} == {id(p) for p in net.net.weight_parameters()}
    assert not logit_ids & {id(p) for p in weights}
    assert len(weights) + len(logits) == len(list(net.parameters()))


def test_weight_parameters_of_a_module_holding_no_logits_are_all_of_them():
    module = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Linear(4, 5))
    assert weight_parameters(module, nn.ParameterDict({"x": nn.Parameter(torch.zeros(2))})) == list(module.parameters())


# -- count_parameters and NetworkCost ------------------------------------------------------------------------


def test_count_parameters_counts_trainable_parameters_once():
    linear = nn.Linear(3, 2)
    assert count_parameters(linear) == 3 * 2 + 2
    assert count_parameters(nn.Sequential(linear, nn.ReLU(), linear)) == 8  # a shared layer counts once
    linear.weight.requires_grad_(False)
    assert count_parameters(linear) == 2


def test_network_cost_round_trips_through_a_dict_and_is_frozen():
    cost = NetworkCost(params=10, forward_flops=200, step_flops=600, height=8, width=12)
    assert cost.to_dict() == {"params": 10, "forward_flops": 200, "step_flops": 600, "height": 8, "width": 12}
    assert NetworkCost(**cost.to_dict()) == cost
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.params = 11


# -- network_cost ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_network_cost_of_two_convolutions_by_hand(two_conv, kernel):
    cost = network_cost(two_conv(kernel), SMALL, (12, 20))
    forward = conv_flops(2, 8, kernel, 12 * 20) + conv_flops(8, 3, 1, 12 * 20)
    params = 2 * 8 * kernel * kernel + 8 + 8 * 3 + 3
    assert cost == NetworkCost(params=params, forward_flops=forward, step_flops=3 * forward, height=12, width=20)


def test_network_cost_counts_the_padded_size_the_network_runs_at(two_conv):
    padded = network_cost(two_conv(3), SMALL, (12, 20))
    odd = network_cost(two_conv(3), SMALL, (10, 17))  # runs at 12 x 20 (multiples of 4)
    assert odd.forward_flops == padded.forward_flops and (odd.height, odd.width) == (10, 17)
    tiny = network_cost(two_conv(3), SMALL, (3, 3))  # runs at the minimum size, 8 x 8
    assert tiny.forward_flops == conv_flops(2, 8, 3, 64) + conv_flops(8, 3, 1, 64)


@pytest.mark.parametrize(
    ("config", "size"),
    [(SMALL, (32, 24)), (NetConfig(width=12, skip=0, depth=2, input_depth=3, out_channels=1), (16, 20)),
     (NetConfig(), (64, 64))],
)
def test_network_cost_of_dip_skip_matches_a_count_from_its_description(config, size):
    cost = network_cost(presets()["dip-skip"], config, size)
    assert cost.forward_flops == dip_skip_flops(config, *size)
    assert cost.step_flops == 3 * cost.forward_flops


@pytest.mark.parametrize(("name", "params"), [("dip-skip", 2_217_831), ("nasdip-denoise", 4_405_635)])
def test_network_cost_counts_the_released_parameters(name, params):
    # nasdip-sr (3,512,835) is checked through `nasdip archs` (tests/nasdip/cli/test_archs.py); building its
    # bicubic cells on the meta device takes seconds.
    assert network_cost(presets()[name], size=(64, 64)).params == params


@pytest.mark.parametrize("name", ["dip-skip", "nasdip-denoise"])
def test_forward_flops_grow_with_the_number_of_pixels(name):
    config = NetConfig(width=8)
    small, large = (network_cost(presets()[name], config, size) for size in ((64, 64), (128, 192)))
    assert large.forward_flops == 6 * small.forward_flops and large.params == small.params


def test_network_cost_on_the_meta_device_counts_what_a_real_build_holds():
    arch, config = presets()["nasdip-denoise"], NetConfig(width=8, input_depth=4)
    assert network_cost(arch, config, (64, 64)).params == count_parameters(build_network(arch, config))


# -- rebuild_network -----------------------------------------------------------------------------------------

BACKBONE = NetConfig(width=4, input_depth=4, pad="zero")


def test_rebuild_network_turns_a_network_into_another_candidate_s_in_place():
    net = build_network(presets()["nasdip-sr"], BACKBONE)
    target = presets()["nasdip-denoise"]
    assert rebuild_network(net, target)
    assert net.arch == target and net.net.cell == build_network(target, BACKBONE).net.cell
    assert [name for name, _ in net.named_parameters()] == \
        [name for name, _ in build_network(target, BACKBONE).named_parameters()]


def test_rebuild_network_refuses_another_space_or_a_space_that_cannot(two_conv):
    net = build_network(presets()["nasdip-sr"], BACKBONE)
    assert not rebuild_network(net, registry.get("spaces", "cross-scale").sample(random.Random(0)))
    assert net.arch == presets()["nasdip-sr"]
    mine = build_network(two_conv(3), SMALL)  # a space without rebuild (Space.rebuild's default)
    assert not rebuild_network(mine, two_conv(5))
    assert mine.arch.choices == {"kernel": 3}


def test_rebuild_network_validates_the_architecture():
    net = build_network(presets()["nasdip-sr"], BACKBONE)
    with pytest.raises(ArchError):
        rebuild_network(net, Arch("nasdip", {"spatial": "bilinear"}))
