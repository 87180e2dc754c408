"""DIP's skip network: parameter counts counted independently, the level wiring, padding, activations, the cell."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasdip.arch.build import build_network, count_parameters
from nasdip.arch.catalog import presets
from nasdip.arch.document import Arch
from nasdip.nn.cell import Cell
from nasdip.nn.config import NetConfig
from nasdip.nn.skip import BILINEAR_CELL, SkipLevel, SkipNet

SMALL = NetConfig(width=8, depth=3, input_depth=4)


def conv_params(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def bn(c):
    return 2 * c


def dip_skip_params(width, skip, depth, input_depth, out):
    """DIP's skip network counted from its description (docs/release.md), not from nasdip's modules."""
    total = 0
    for level in range(depth):
        c_in = input_depth if level == 0 else width
        total += conv_params(c_in, skip, 1) + bn(skip)                                    # skip branch
        total += conv_params(c_in, width, 3) + bn(width) + conv_params(width, width, 3) + bn(width)  # deeper
        total += bn(skip + width) + conv_params(skip + width, width, 3) + bn(width)     # merge 3x3
        total += conv_params(width, width, 1) + bn(width)                                # merge 1x1
    return total + conv_params(width, out, 1)


def levels(net: SkipNet) -> list[SkipLevel]:
    found, level = [], net.body
    while level is not None:
        found.append(level)
        level = level.deeper
    return found


def test_dip_skip_matches_dips_count():
    assert dip_skip_params(128, 4, 5, 32, 3) == 2_217_831
    assert count_parameters(build_network(presets()["dip-skip"])) == 2_217_831


@pytest.mark.parametrize(("width", "skip", "depth", "input_depth", "out"), [(16, 4, 3, 8, 1), (32, 0, 4, 2, 3)])
def test_skip_net_counts_for_other_settings(width, skip, depth, input_depth, out):
    config = NetConfig(width=width, skip=skip, depth=depth, input_depth=input_depth, out_channels=out)
    assert count_parameters(SkipNet(config)) == dip_skip_params(width, skip, depth, input_depth, out)


def test_dip_space_matches_upsample_cell_with_bilinear_cell():
    config = NetConfig(width=8, input_depth=4)
    bilinear = Arch("upsample-cell", Cell.from_release_index(60).to_choices())
    torch.manual_seed(1)
    a = build_network(presets()["dip-skip"], config)
    torch.manual_seed(1)
    b = build_network(bilinear, config)
    z = torch.rand(1, 4, 40, 40)
    torch.testing.assert_close(a(z), b(z))


def test_bilinear_cell_is_plain_bilinear_interpolation():
    assert Cell.from_release_index(60) == BILINEAR_CELL
    level = SkipNet(SMALL).body
    x = torch.randn(2, 8, 5, 7)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(level.up(x), expected)


def test_levels_nest_depth_times_and_halve_the_resolution():
    net = SkipNet(SMALL)
    chain = levels(net)
    assert len(chain) == 3 and chain[-1].deeper is None
    assert chain[0].down[0][1].in_channels == 4 and all(level.down[0][1].in_channels == 8 for level in chain[1:])
    sizes = []
    for level in chain:
        level.down.register_forward_hook(lambda module, args, out: sizes.append(tuple(out.shape[-2:])))
    assert net(torch.rand(1, 4, 16, 24)).shape == (1, 3, 16, 24)
    assert sizes == [(8, 12), (4, 6), (2, 3)]


@pytest.mark.parametrize("skip", [4, 0])
def test_a_level_merges_its_skip_branch_with_the_upsampled_deeper_path(skip):
    torch.manual_seed(0)
    level = SkipNet(SMALL.replace(skip=skip)).body.eval()
    x = torch.rand(1, 4, 16, 16)
    deeper = level.up(level.deeper(level.down(x)))
    joined = torch.cat([level.skip(x), deeper], dim=1) if skip else deeper
    assert (level.skip is None) is (skip == 0)
    assert level.merge[0].num_features == 8 + skip
    torch.testing.assert_close(level(x), level.merge(joined))


def test_head_is_a_pointwise_conv_and_a_sigmoid():
    torch.manual_seed(3)
    net = SkipNet(SMALL).eval()
    z = torch.rand(1, 4, 16, 16)
    features = net.body(z)
    head = net.head
    torch.testing.assert_close(net(z), torch.sigmoid(F.conv2d(features, head.weight, head.bias)))


def test_without_sigmoid_the_output_is_the_logit():
    torch.manual_seed(4)
    squashed = SkipNet(SMALL).eval()
    raw = SkipNet(SMALL.replace(sigmoid=False)).eval()
    raw.load_state_dict(squashed.state_dict())
    z = torch.rand(1, 4, 16, 16)
    torch.testing.assert_close(torch.sigmoid(raw(z)), squashed(z))


@pytest.mark.parametrize(("pad", "reflections"), [("reflection", 9), ("zero", 0)])
def test_every_3x3_conv_and_only_those_pad_by_reflection(pad, reflections):
    net = SkipNet(SMALL.replace(pad=pad))
    pads = [m for m in net.modules() if isinstance(m, nn.ReflectionPad2d)]
    assert len(pads) == reflections  # per level: two in ``down``, one in ``merge``
    assert all(m.padding == (1, 1, 1, 1) for m in pads)
    zero_padded = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.padding != (0, 0)]
    assert len(zero_padded) == 9 - reflections


@pytest.mark.parametrize(("name", "kind"), [("relu", nn.ReLU), ("leaky_relu", nn.LeakyReLU), ("none", nn.Identity)])
def test_the_configured_activation_follows_every_batch_norm_but_the_first_of_merge(name, kind):
    net = SkipNet(SMALL.replace(activation=name))
    count = sum(isinstance(m, kind) for m in net.modules())
    # per level: skip 1, down 2, merge 2; the bilinear cell adds two identities (none) per level
    assert count == 3 * 5 + (6 if name == "none" else 0)


def test_any_upsampler_factory_builds_every_level():
    calls = []

    def factory(c_in, c_out):
        calls.append((c_in, c_out))
        return nn.Upsample(scale_factor=2, mode="nearest")

    net = SkipNet(SMALL, factory)
    assert calls == [(8, 8)] * 3
    assert all(isinstance(level.up, nn.Upsample) for level in levels(net))
    assert net(torch.rand(1, 4, 16, 16)).shape == (1, 3, 16, 16)
