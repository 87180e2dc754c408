"""DIP skip and NAS-DIP backbones: parameter counts counted independently, path semantics, odd sizes."""

from __future__ import annotations

import pytest
import torch

from nasdip.arch.build import build_network, count_parameters
from nasdip.arch.catalog import presets
from nasdip.arch.document import Arch
from nasdip.nn.cell import Cell
from nasdip.nn.config import NetConfig
from nasdip.nn.crossscale import CrossScaleNet, parse_links
from nasdip.nn.skip import SkipNet


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


def nasdip_params(width, input_depth, out, cell_params):
    """The NAS-DIP backbone counted from its description, plus nine cells (5 decoder + 4 cross-scale)."""
    encoder = conv_params(input_depth, width, 3) + bn(width) + conv_params(width, width, 3) + bn(width)
    encoder += 4 * (2 * conv_params(width, width, 3) + 2 * bn(width))
    same = conv_params(input_depth, width, 1) + bn(width) + 4 * (conv_params(width, width, 1) + bn(width))
    downs = conv_params(input_depth, width, 3) + bn(width) + 3 * (conv_params(width, width, 3) + bn(width))
    decoder = 5 * (4 * bn(width) + 2 * conv_params(width, width, 3) + conv_params(width, width, 1))
    return encoder + same + downs + decoder + 9 * cell_params + conv_params(width, out, 1)


def test_dip_skip_matches_dips_count():
    assert dip_skip_params(128, 4, 5, 32, 3) == 2_217_831
    assert count_parameters(build_network(presets()["dip-skip"])) == 2_217_831


@pytest.mark.parametrize(("width", "skip", "depth", "input_depth", "out"), [(16, 4, 3, 8, 1), (32, 0, 4, 2, 3)])
def test_skip_net_counts_for_other_settings(width, skip, depth, input_depth, out):
    config = NetConfig(width=width, skip=skip, depth=depth, input_depth=input_depth, out_channels=out)
    assert count_parameters(SkipNet(config)) == dip_skip_params(width, skip, depth, input_depth, out)


@pytest.mark.parametrize(
    ("name", "out", "cell_params", "published"),
    [
        ("nasdip-sr", 3, 128 * 25, 3_512_835),
        ("nasdip-denoise", 3, 32 * 128 * 25, 4_405_635),
        ("nasdip-inpaint", 1, 128 * 128 * 49 + 128, 10_710_273),
    ],
)
def test_released_models_have_the_released_parameter_counts(name, out, cell_params, published):
    assert nasdip_params(128, 32, out, cell_params) == published
    assert count_parameters(build_network(presets()[name], NetConfig(out_channels=out))) == published


def reference_forward(net: CrossScaleNet, z: torch.Tensor) -> torch.Tensor:
    """The NAS-DIP forward pass written path by path, recomputing every path (as the release does)."""
    features = [z]
    for encoder in net.encoders:
        features.append(encoder(features[-1]))

    def path(source, level):
        x = features[source]
        if source == level:
            return net.same_level[level](x)
        for step in range(source, level):
            x = net.downs[step](x)
        for step in reversed(range(level, source)):
            x = net.cross_ups[step](x)
        return x

    y = features[5]
    for level in reversed(range(5)):
        total = net.ups[level](y)
        for source in range(5):
            if net.links[level][source]:
                total = total + path(source, level)
        y = net.decoders[level](total)
    return torch.sigmoid(net.head(y))


@pytest.mark.parametrize("links", ["10010 11001 01100 00110 00011", "11111 11111 11111 11111 11111", "00000 " * 5])
def test_shared_paths_compute_the_same_function(links):
    torch.manual_seed(0)
    net = CrossScaleNet(NetConfig(width=8, input_depth=4), Cell.from_release_index(119), parse_links(links)).eval()
    z = torch.rand(1, 4, 64, 64)
    torch.testing.assert_close(net(z), reference_forward(net, z))


def gradient_holders(net, z):
    net.zero_grad(set_to_none=True)
    net(z).mean().backward()
    return {name.split(".")[0] + "." + name.split(".")[1] for name, p in net.named_parameters() if p.grad is not None}


def test_links_route_through_the_per_level_blocks():
    z = torch.rand(1, 4, 64, 64)
    config = NetConfig(width=8, input_depth=4)
    cell = Cell.from_release_index(119)
    only_e4_to_add1 = parse_links("00001 00000 00000 00000 00000")
    used = gradient_holders(CrossScaleNet(config, cell, only_e4_to_add1), z)
    assert {"cross_ups.0", "cross_ups.1", "cross_ups.2", "cross_ups.3"} <= used
    assert not any(name.startswith(("downs.", "same_level.")) for name in used)
    only_z_to_add5 = parse_links("00000 00000 00000 00000 10000")
    used = gradient_holders(CrossScaleNet(config, cell, only_z_to_add5), z)
    assert {"downs.0", "downs.1", "downs.2", "downs.3"} <= used
    assert not any(name.startswith(("cross_ups.", "same_level.")) for name in used)


@pytest.mark.parametrize("name", ["dip-skip", "nasdip-sr", "nasdip-denoise", "nasdip-inpaint"])
@pytest.mark.parametrize("size", [(61, 47), (13, 20), (64, 96)])
def test_output_size_equals_input_size(name, size):
    net = build_network(presets()[name], NetConfig(width=8, input_depth=4))
    out = net(torch.rand(1, 4, *size))
    assert out.shape == (1, 3, *size)
    assert out.min() >= 0 and out.max() <= 1


def test_dip_space_matches_upsample_cell_with_bilinear_cell():
    config = NetConfig(width=8, input_depth=4)
    bilinear = Arch("upsample-cell", Cell.from_release_index(60).to_choices())
    torch.manual_seed(1)
    a = build_network(presets()["dip-skip"], config)
    torch.manual_seed(1)
    b = build_network(bilinear, config)
    z = torch.rand(1, 4, 40, 40)
    torch.testing.assert_close(a(z), b(z))
