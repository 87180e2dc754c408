"""The NAS-DIP backbone: parameter counts counted independently, links parsed and routed, weighted links."""

from __future__ import annotations

import re

import pytest
import torch

from nasdip.arch.build import build_network, count_parameters
from nasdip.arch.catalog import presets
from nasdip.nn.cell import Cell
from nasdip.nn.config import NetConfig
from nasdip.nn.crossscale import ROWS, SOURCES, CrossScaleNet, parse_links
from nasdip.nn.skip import BILINEAR_CELL

#: Zero padding lets the backbone run on 32x32 noise (reflection cannot pad the deepest level, 1x1, by 1).
SMALL = NetConfig(width=8, input_depth=4, pad="zero")
SR_LINKS = "10010 11001 01100 00110 00011"


def conv_params(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def bn(c):
    return 2 * c


def nasdip_params(width, input_depth, out, cell_params):
    """The NAS-DIP backbone counted from its description, plus nine cells (5 decoder + 4 cross-scale)."""
    encoder = conv_params(input_depth, width, 3) + bn(width) + conv_params(width, width, 3) + bn(width)
    encoder += 4 * (2 * conv_params(width, width, 3) + 2 * bn(width))
    same = conv_params(input_depth, width, 1) + bn(width) + 4 * (conv_params(width, width, 1) + bn(width))
    downs = conv_params(input_depth, width, 3) + bn(width) + 3 * (conv_params(width, width, 3) + bn(width))
    decoder = 5 * (4 * bn(width) + 2 * conv_params(width, width, 3) + conv_params(width, width, 1))
    return encoder + same + downs + decoder + 9 * cell_params + conv_params(width, out, 1)


def reference_forward(net: CrossScaleNet, z: torch.Tensor, weight=None) -> torch.Tensor:
    """The NAS-DIP forward pass written path by path, recomputing every path (as the release does); ``weight``
    (default: the 0/1 links) scales each path."""
    weight = weight or (lambda level, source: net.links[level][source])
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
            if isinstance(weight(level, source), torch.Tensor) or weight(level, source):
                total = total + weight(level, source) * path(source, level)
        y = net.decoders[level](total)
    return torch.sigmoid(net.head(y))


def gradient_holders(net, z):
    net.zero_grad(set_to_none=True)
    net(z).mean().backward()
    return {name.split(".")[0] + "." + name.split(".")[1] for name, p in net.named_parameters() if p.grad is not None}


def test_rows_and_sources():
    assert ROWS == ("add1", "add2", "add3", "add4", "add5")
    assert SOURCES == ("z", "e1", "e2", "e3", "e4")


def test_parse_links_reads_rows_of_source_bits():
    links = parse_links(SR_LINKS)
    assert links == ((1, 0, 0, 1, 0), (1, 1, 0, 0, 1), (0, 1, 1, 0, 0), (0, 0, 1, 1, 0), (0, 0, 0, 1, 1))
    assert parse_links("  00000\n11111 00000 11111   00000 ") == ((0,) * 5, (1,) * 5, (0,) * 5, (1,) * 5, (0,) * 5)


@pytest.mark.parametrize("text", ["10010 11001 01100 00110", "10010 11001 01100 00110 0001", "10010 11001 01100 00110 00021",
                                  "1001011001011000011000011", "10010 11001 01100 00110 00011 00000", ""])
def test_parse_links_refuses_anything_but_five_groups_of_five_bits(text):
    with pytest.raises(ValueError, match=f"^{re.escape(f'expected 5 groups of 5 binary digits, got {text!r}')}$"):
        parse_links(text)


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


@pytest.mark.parametrize("links", [SR_LINKS, "11111 " * 5, "00000 " * 5])
def test_every_block_exists_whatever_the_links(links):
    net = CrossScaleNet(SMALL, BILINEAR_CELL, parse_links(links))
    assert count_parameters(net) == nasdip_params(8, 4, 3, 0)


@pytest.mark.parametrize("links", [SR_LINKS, "11111 11111 11111 11111 11111", "00000 " * 5])
def test_shared_paths_compute_the_same_function(links):
    torch.manual_seed(0)
    net = CrossScaleNet(SMALL, Cell.from_release_index(119), parse_links(links)).eval()
    z = torch.rand(2, 4, 32, 32)
    torch.testing.assert_close(net(z), reference_forward(net, z))


def test_links_route_through_the_per_level_blocks():
    z = torch.rand(2, 4, 32, 32)
    cell = Cell.from_release_index(119)
    only_e4_to_add1 = parse_links("00001 00000 00000 00000 00000")
    used = gradient_holders(CrossScaleNet(SMALL, cell, only_e4_to_add1), z)
    assert {"cross_ups.0", "cross_ups.1", "cross_ups.2", "cross_ups.3"} <= used
    assert not any(name.startswith(("downs.", "same_level.")) for name in used)
    only_z_to_add5 = parse_links("00000 00000 00000 00000 10000")
    used = gradient_holders(CrossScaleNet(SMALL, cell, only_z_to_add5), z)
    assert {"downs.0", "downs.1", "downs.2", "downs.3"} <= used
    assert not any(name.startswith(("cross_ups.", "same_level.")) for name in used)


def test_a_same_level_link_uses_its_own_pointwise_block():
    z = torch.rand(2, 4, 32, 32)
    used = gradient_holders(CrossScaleNet(SMALL, BILINEAR_CELL, parse_links("00000 00000 00100 00000 00000")), z)
    assert "same_level.2" in used
    assert not any(name.startswith(("downs.", "cross_ups.")) for name in used)
    assert not {"same_level.0", "same_level.1", "same_level.3", "same_level.4"} & used


def test_tensor_link_weights_of_zero_and_one_equal_the_fixed_pattern():
    torch.manual_seed(1)
    links = parse_links(SR_LINKS)
    fixed = CrossScaleNet(SMALL, BILINEAR_CELL, links).eval()
    relaxed = CrossScaleNet(SMALL, BILINEAR_CELL, lambda level, source: torch.tensor(float(links[level][source])))
    relaxed.load_state_dict(fixed.state_dict())
    z = torch.rand(2, 4, 32, 32)
    torch.testing.assert_close(relaxed.eval()(z), fixed(z))


def test_tensor_link_weights_scale_each_path():
    torch.manual_seed(2)
    weights = torch.rand(5, 5)
    net = CrossScaleNet(SMALL, BILINEAR_CELL, lambda level, source: weights[level, source]).eval()
    z = torch.rand(2, 4, 32, 32)
    torch.testing.assert_close(net(z), reference_forward(net, z, lambda level, source: weights[level, source]))


def test_gradients_reach_the_link_weights():
    torch.manual_seed(3)
    weights = torch.full((5, 5), 0.5, requires_grad=True)
    net = CrossScaleNet(SMALL, BILINEAR_CELL, lambda level, source: weights[level, source])
    net(torch.rand(2, 4, 32, 32)).square().mean().backward()
    assert weights.grad is not None and (weights.grad != 0).all()


def test_without_sigmoid_the_output_is_the_logit():
    torch.manual_seed(4)
    squashed = CrossScaleNet(SMALL, BILINEAR_CELL, parse_links(SR_LINKS)).eval()
    raw = CrossScaleNet(SMALL.replace(sigmoid=False), BILINEAR_CELL, parse_links(SR_LINKS)).eval()
    raw.load_state_dict(squashed.state_dict())
    z = torch.rand(2, 4, 32, 32)
    torch.testing.assert_close(torch.sigmoid(raw(z)), squashed(z))


# -- rewiring in place ------------------------------------------------------------------------------------------

REWIRE_CELLS = (
    Cell("pixel_shuffle", "transform_first", "separable_conv", 5, "relu"),
    Cell("transposed_conv", "spatial_first", "identity", 3, "none"),
    Cell("bicubic", "spatial_first", "split_stack_sum", 7, "leaky_relu"),
    BILINEAR_CELL,
    Cell("nearest", "spatial_first", "depthwise_conv", 3, "none"),
)


def fresh(cell: Cell, links: str, seed: int) -> CrossScaleNet:
    torch.manual_seed(seed)
    return CrossScaleNet(SMALL, cell, parse_links(links))


def test_a_rewired_network_is_a_fresh_build_once_reinitialised():
    """Every cell kind in turn (back to one seen before too): the same modules in the order a build registers them,
    the same weights after re-initialising from the seed, the same output."""
    from nasdip.nn.init import reinitialise

    net = fresh(REWIRE_CELLS[0], SR_LINKS, 0)
    z = torch.rand(2, 4, 32, 32)
    for seed, (cell, links) in enumerate(zip((*REWIRE_CELLS[1:], REWIRE_CELLS[0]),
                                             ("11111 01111 00111 00011 00001", "00000 00000 00000 00000 00000",
                                              SR_LINKS, "10101 01010 10101 01010 10101", "11000 01100 10110 01011 00101"),
                                             strict=True)):
        net.rewire(cell, parse_links(links))
        reinitialise(net, seed)
        expected = fresh(cell, links, seed)
        assert [name for name, _ in net.named_modules()] == [name for name, _ in expected.named_modules()]
        ours, theirs = net.state_dict(), expected.state_dict()
        assert list(ours) == list(theirs) and all(torch.equal(ours[key], theirs[key]) for key in ours)
        assert torch.equal(net(z), expected(z)), cell


def test_rewiring_reuses_the_upsamplers_of_a_cell_seen_before():
    net = fresh(REWIRE_CELLS[0], SR_LINKS, 0)
    first = net.ups
    net.rewire(REWIRE_CELLS[1], parse_links(SR_LINKS))
    assert net.ups is not first
    net.rewire(REWIRE_CELLS[0], parse_links(SR_LINKS))
    assert net.ups is first


def test_rewiring_leaves_the_global_random_state_alone():
    net = fresh(REWIRE_CELLS[0], SR_LINKS, 0)
    state = torch.get_rng_state()
    net.rewire(REWIRE_CELLS[1], parse_links(SR_LINKS))  # a cell not seen before: its upsamplers are constructed
    assert torch.equal(torch.get_rng_state(), state)


def test_the_kept_upsamplers_are_bounded_by_their_parameters(monkeypatch):
    import nasdip.nn.crossscale as crossscale

    monkeypatch.setattr(crossscale, "REWIRE_PARAMETERS", 0)
    net = fresh(REWIRE_CELLS[0], SR_LINKS, 0)
    for cell in REWIRE_CELLS[1:]:
        net.rewire(cell, parse_links(SR_LINKS))
    assert list(net._cells) == [REWIRE_CELLS[-1]]  # only the current cell's


def test_a_super_network_is_not_rewired():
    net = CrossScaleNet(SMALL, BILINEAR_CELL, lambda level, source: torch.tensor(1.0))
    with pytest.raises(TypeError, match="super-network"):
        net.rewire(BILINEAR_CELL, parse_links(SR_LINKS))


def test_an_encoding_keeps_a_cell_s_upsampled_paths_for_its_next_links_without_gradients():
    """One cell, other links: the kept coarser-to-finer paths decode to the fresh network's output; new
    upsamplers, or the same ones changed in place, compute them again; with gradients nothing is kept."""
    from nasdip.nn.init import reinitialise

    net = reinitialise(fresh(REWIRE_CELLS[1], "11111 01111 00111 00011 00001", 0), 0)  # its draws recorded
    z = torch.rand(2, 4, 32, 32)
    with torch.no_grad():
        encoding = net.encode(z)
        net.decode(encoding)
        kept = dict(encoding.upsampled)
        assert kept and all(level < source for source, level in kept)
        net.rewire(REWIRE_CELLS[1], parse_links(SR_LINKS))
        reinitialise(net, 0)
        assert torch.equal(net.decode(encoding), fresh(REWIRE_CELLS[1], SR_LINKS, 0)(z))
        assert all(encoding.upsampled[key] is kept[key] for key in kept)  # reused, not recomputed
        next(net.cross_ups.parameters()).add_(1)
        assert torch.equal(net.decode(encoding), net(z))  # the whole forward pass computes every path afresh
        assert encoding.upsampled and not any(encoding.upsampled.get(key) is kept[key] for key in kept)
        net.rewire(REWIRE_CELLS[2], parse_links(SR_LINKS))
        reinitialise(net, 0)
        assert torch.equal(net.decode(encoding), fresh(REWIRE_CELLS[2], SR_LINKS, 0)(z))
    with_grad = net.encode(z)
    net.decode(with_grad)
    assert with_grad.upsampled == {} and with_grad.upsampled_by is None
