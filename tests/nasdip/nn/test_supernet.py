"""Super-networks: mixed operations equal their discrete choices when the mixture is one-hot, exact kernel mixing,
parameter counts counted by hand, shared architecture logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasdip import registry
from nasdip.arch.build import count_parameters
from nasdip.arch.space import Decision
from nasdip.nn.cell import CELL_DECISIONS, KERNELS, TRANSFORMS, Cell, build_cell, transform_layer
from nasdip.nn.config import NetConfig
from nasdip.nn.crossscale import ROWS, SOURCES
from nasdip.nn.skip import SkipNet
from nasdip.nn.supernet import (
    MixedCell,
    MixedKernelTransform,
    MixedTransform,
    SuperNet,
    _pad_to,
    mixed_activation,
    new_arch_logits,
)

#: Logits this far below the chosen one get softmax weights of e^-40 (4e-18): one-hot to float32 precision.
GAP = 40.0


def peaked(size: int, index: int) -> torch.Tensor:
    logits = torch.full((size,), -GAP)
    logits[index] = 0.0
    return logits


def cell_logits(cell: Cell) -> dict[str, torch.Tensor]:
    """Logits of the five cell decisions peaked at ``cell``'s choices."""
    return {name: peaked(len(choices), choices.index(getattr(cell, name))) for name, choices, _, _ in CELL_DECISIONS}


def discrete_like(cell: Cell, mixed: MixedCell, c_in: int, c_out: int) -> nn.Sequential:
    """``build_cell(cell)`` holding the parameters of the branch of ``mixed`` that ``cell`` selects."""
    discrete = build_cell(cell, c_in, c_out)
    kernel = KERNELS.index(cell.kernel)
    if cell.spatial == "transposed_conv":
        discrete[0].load_state_dict(mixed.transposed[kernel].state_dict())
    elif cell.transform != "identity":
        transform = TRANSFORMS.index(cell.transform)
        if cell.order == "transform_first":
            source, target = mixed.before_shuffle, discrete[0]
        elif cell.spatial == "pixel_shuffle":
            source, target = mixed.after_shuffle, discrete[2]
        else:
            source, target = mixed.after_interpolation, discrete[2]
        target.load_state_dict(source.transforms[transform].layers[kernel].state_dict())
    return discrete


CELLS = [
    Cell.from_release_index(119),  # bicubic, depthwise 5x5, leaky ReLU (nasdip-sr)
    Cell.from_release_index(158),  # nearest, split-stack-sum 5x5 (nasdip-denoise)
    Cell.from_release_index(86),  # bicubic, transposed conv 7x7 (nasdip-inpaint)
    Cell.from_release_index(60),  # bilinear alone (DIP)
    Cell("bilinear", "spatial_first", "separable_conv", 3, "relu"),
    Cell("nearest", "spatial_first", "conv", 1, "none"),
    Cell("nearest", "spatial_first", "identity", 1, "leaky_relu"),
    Cell("pixel_shuffle", "spatial_first", "conv", 3, "relu"),
    Cell("pixel_shuffle", "spatial_first", "depthwise_conv", 7, "leaky_relu"),
    Cell("pixel_shuffle", "transform_first", "separable_conv", 1, "leaky_relu"),
    Cell("pixel_shuffle", "transform_first", "transposed_conv", 5, "none"),
    Cell("transposed_conv", "spatial_first", "identity", 3, "relu"),
    Cell("transposed_conv", "spatial_first", "identity", 7, "none"),
]


def test_mixed_activation_by_value():
    x = torch.tensor([-2.0, -0.5, 0.0, 1.5])
    weights = torch.tensor([0.5, 0.3, 0.2])
    expected = [0.5 * -2.0 + 0.2 * -0.4, 0.5 * -0.5 + 0.2 * -0.1, 0.0, 1.5 * (0.5 + 0.3 + 0.2)]
    torch.testing.assert_close(mixed_activation(x, weights), torch.tensor(expected))


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_a_kernel_padded_to_7x7_convolves_like_the_kernel(kernel):
    torch.manual_seed(0)
    weight = torch.randn(4, 3, kernel, kernel)
    big = _pad_to(weight, 7)
    window = (..., slice((7 - kernel) // 2, (7 + kernel) // 2), slice((7 - kernel) // 2, (7 + kernel) // 2))
    assert big.shape == (4, 3, 7, 7) and torch.equal(big[window], weight)
    big[window] = 0
    assert not big.any()  # zeros all round
    x = torch.randn(2, 3, 9, 8)
    torch.testing.assert_close(F.conv2d(x, _pad_to(weight, 7), padding=3), F.conv2d(x, weight, padding=kernel // 2))
    up = torch.randn(3, 4, kernel, kernel)
    torch.testing.assert_close(F.conv_transpose2d(x, _pad_to(up, 7), stride=2, padding=3, output_padding=1),
                               F.conv_transpose2d(x, up, stride=2, padding=kernel // 2, output_padding=1))


@pytest.mark.parametrize("transform", TRANSFORMS[:-1])
@pytest.mark.parametrize(("c_in", "c_out"), [(8, 8), (6, 8), (2, 8), (8, 32)])
def test_mixed_kernels_equal_the_weighted_sum_of_the_kernels(transform, c_in, c_out):
    torch.manual_seed(1)
    mixed = MixedKernelTransform(transform, c_in, c_out)
    x = torch.randn(2, c_in, 6, 5)
    weights = torch.tensor([0.1, 0.4, 0.3, 0.7])
    expected = sum(w * layer(x) for w, layer in zip(weights, mixed.layers, strict=True))
    torch.testing.assert_close(mixed(x, weights), expected)


@pytest.mark.parametrize("transform", TRANSFORMS[:-1])
@pytest.mark.parametrize("kernel", KERNELS)
def test_one_hot_kernel_weights_give_that_kernels_layer(transform, kernel):
    torch.manual_seed(2)
    mixed = MixedKernelTransform(transform, 8, 8)
    single = transform_layer(transform, 8, 8, kernel)
    single.load_state_dict(mixed.layers[KERNELS.index(kernel)].state_dict())
    x = torch.randn(1, 8, 7, 7)
    torch.testing.assert_close(mixed(x, F.one_hot(torch.tensor(KERNELS.index(kernel)), 4).float()), single(x))


def test_mixed_transform_renormalises_over_the_allowed_transforms():
    torch.manual_seed(3)
    without_identity = MixedTransform(8, 8, identity=False)
    x = torch.randn(1, 8, 5, 5)
    kernel, act = torch.tensor([0.25] * 4), torch.tensor([0.2, 0.3, 0.5])
    # identity weight 0.5 is dropped: the five others, 0.1 each, count 0.2 each
    out = without_identity(x, {"transform": torch.tensor([0.1] * 5 + [0.5]), "kernel": kernel, "activation": act})
    expected = sum(0.2 * mixed_activation(t(x, kernel), act) for t in without_identity.transforms)
    torch.testing.assert_close(out, expected)


def test_mixed_transform_adds_the_identity_where_allowed():
    torch.manual_seed(4)
    with_identity = MixedTransform(8, 8, identity=True)
    x = torch.randn(1, 8, 5, 5)
    weights = {"transform": torch.tensor([0.0, 0.2, 0.0, 0.0, 0.0, 0.8]), "kernel": torch.tensor([0.0, 1.0, 0.0, 0.0]),
               "activation": torch.tensor([0.0, 1.0, 0.0])}
    transposed = with_identity.transforms[TRANSFORMS.index("transposed_conv")].layers[1]
    torch.testing.assert_close(with_identity(x, weights), 0.2 * F.relu(transposed(x)) + 0.8 * x)
    assert not MixedTransform(8, 4, identity=True).identity  # channel counts differ: no identity


@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: f"{cell.release_index()}")
def test_a_one_hot_mixed_cell_equals_the_discrete_cell(cell):
    torch.manual_seed(5)
    weights = {name: torch.softmax(logits, 0) for name, logits in cell_logits(cell).items()}
    mixed = MixedCell(8, 8, lambda: weights)
    x = torch.randn(2, 8, 5, 6)
    torch.testing.assert_close(mixed(x), discrete_like(cell, mixed, 8, 8)(x))


def test_interpolations_mix_in_proportion_within_their_share_of_the_spatial_weight():
    torch.manual_seed(9)
    weights = {"spatial": torch.tensor([0.1, 0.3, 0.0, 0.6, 0.0]), "order": torch.tensor([1.0, 0.0]),
               "transform": F.one_hot(torch.tensor(0), 6).float(), "kernel": F.one_hot(torch.tensor(0), 4).float(),
               "activation": F.one_hot(torch.tensor(0), 3).float()}
    mixed = MixedCell(8, 8, lambda: weights)
    x = torch.randn(1, 8, 4, 5)
    after_interpolation = mixed.after_interpolation.transforms[0].layers[0].weight  # the 1x1 convolutions
    after_shuffle = mixed.after_shuffle.transforms[0].layers[0].weight
    interpolated = (0.25 * F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
                    + 0.75 * F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False))
    expected = 0.4 * F.conv2d(interpolated, after_interpolation) + 0.6 * F.conv2d(F.pixel_shuffle(x, 2), after_shuffle)
    torch.testing.assert_close(mixed(x), expected)


def mixed_transform_params(c_in: int, c_out: int) -> int:
    """Parameters of the five transforms at kernels 1, 3, 5 and 7, counted from their definitions."""
    area = sum(k * k for k in KERNELS)  # 84
    conv = c_in * c_out * area
    transposed = conv + 4 * c_out
    split_stack_sum = -(-c_in // 4) * c_out * area
    separable = c_in * area + 4 * c_in * c_out
    groups = next(g for g in range(min(c_in, c_out), 0, -1) if c_in % g == 0 and c_out % g == 0)
    depthwise = c_out * (c_in // groups) * area
    return conv + transposed + split_stack_sum + separable + depthwise


def test_mixed_cell_parameter_count_by_hand():
    assert mixed_transform_params(8, 8) == 5376 + 5408 + 1344 + 928 + 672
    expected = (mixed_transform_params(8, 8) + mixed_transform_params(2, 8) + mixed_transform_params(8, 32)
                + 8 * 8 * 84 + 4 * 8)
    assert expected == 76_328
    assert count_parameters(MixedCell(8, 8, dict)) == expected


def test_new_arch_logits_are_zero_and_uniform():
    decisions = (Decision("a", (1, 2, 3)), Decision("b", ("x", "y")))
    logits = new_arch_logits(decisions)
    assert list(logits) == ["a", "b"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in logits.values())
    assert torch.equal(logits["a"], torch.zeros(3)) and torch.equal(logits["b"], torch.zeros(2))
    net = SuperNet(logits, lambda net: nn.Identity())
    mixture = net.mixture()
    torch.testing.assert_close(mixture["a"], torch.full((3,), 1 / 3))
    torch.testing.assert_close(mixture["b"], torch.full((2,), 0.5))


def test_mixture_and_link_weights_are_softmaxes_of_the_logits():
    logits = nn.ParameterDict({"add2_e3": nn.Parameter(torch.tensor([0.3, 1.1])),
                               "kernel": nn.Parameter(torch.tensor([1.0, 2.0, 0.0, -1.0]))})
    net = SuperNet(logits, lambda net: nn.Identity())
    exps = torch.exp(torch.tensor([1.0, 2.0, 0.0, -1.0]))
    torch.testing.assert_close(net.mixture()["kernel"], exps / exps.sum())
    torch.testing.assert_close(net.link_weight("add2", "e3"), torch.sigmoid(torch.tensor(1.1 - 0.3)))


def test_weight_parameters_are_everything_but_the_logits():
    space = registry.get("spaces", "upsample-cell")
    config = NetConfig(width=8, depth=2, input_depth=4)
    net = space.build_supernet(config)
    logits = {id(p) for p in net.arch_logits.parameters()}
    weights = {id(p) for p in net.weight_parameters()}
    assert len(logits) == len(space.decisions) and not logits & weights
    assert logits | weights == {id(p) for p in net.parameters()}
    # the skip network's own layers (the bilinear cell has none) plus one mixed cell per level
    expected = count_parameters(SkipNet(config)) + 2 * count_parameters(MixedCell(8, 8, dict))
    assert sum(p.numel() for p in net.weight_parameters()) == expected


def test_super_networks_can_share_one_set_of_logits():
    space = registry.get("spaces", "upsample-cell")
    config = NetConfig(width=8, depth=2, input_depth=4)
    first = space.build_supernet(config)
    second = space.build_supernet(config, first.arch_logits)
    assert second.arch_logits is first.arch_logits
    assert not {id(p) for p in first.weight_parameters()} & {id(p) for p in second.weight_parameters()}
    with torch.no_grad():
        first.arch_logits["spatial"][3] = 2.0
    assert second.mixture()["spatial"].argmax() == 3


@pytest.mark.parametrize("index", [119, 158, 86, 60, 193, 290, 316])
def test_upsample_cell_supernet_with_one_hot_logits_equals_the_derived_network(index):
    space = registry.get("spaces", "upsample-cell")
    config = NetConfig(width=8, depth=3, input_depth=4)
    cell = Cell.from_release_index(index)
    torch.manual_seed(6)
    supernet = space.build_supernet(config)
    with torch.no_grad():
        for name, logits in cell_logits(cell).items():
            supernet.arch_logits[name].copy_(logits)
    arch = space.derive({name: logits.detach() for name, logits in supernet.arch_logits.items()})
    assert Cell.from_choices(arch.choices) == cell
    discrete = space.build(arch, config)
    state = {key: value for key, value in supernet.body.state_dict().items() if ".up." not in key}
    missing, unexpected = discrete.load_state_dict(state, strict=False)
    assert not unexpected and all(".up." in key for key in missing)
    mixed_level, level = supernet.body.body, discrete.body
    while level is not None:
        level.up = discrete_like(cell, mixed_level.up, 8, 8)
        mixed_level, level = mixed_level.deeper, level.deeper
    z = torch.rand(1, 4, 16, 16)
    torch.testing.assert_close(supernet.eval()(z), discrete.eval()(z))


@pytest.mark.parametrize("links", ["10010 11001 01100 00110 00011", "01101 10000 00011 11111 00000"])
def test_cross_scale_supernet_with_one_hot_logits_equals_the_derived_network(links):
    space = registry.get("spaces", "cross-scale")
    config = NetConfig(width=8, input_depth=4, pad="zero")  # zero padding runs at 32x32
    torch.manual_seed(7)
    supernet = space.build_supernet(config)
    bits = links.split()
    with torch.no_grad():
        for r, row in enumerate(ROWS):
            for c, source in enumerate(SOURCES):
                supernet.arch_logits[f"{row}_{source}"].copy_(peaked(2, int(bits[r][c])))
    arch = space.derive({name: logits.detach() for name, logits in supernet.arch_logits.items()})
    assert "".join(str(arch.choices[f"{row}_{source}"]) for row in ROWS for source in SOURCES) == links.replace(" ", "")
    discrete = space.build(arch, config)
    discrete.load_state_dict(supernet.body.state_dict())
    z = torch.rand(1, 4, 32, 32)
    torch.testing.assert_close(supernet.eval()(z), discrete.eval()(z))


def test_gradients_reach_every_logit_of_the_cell():
    space = registry.get("spaces", "upsample-cell")
    torch.manual_seed(8)
    supernet = space.build_supernet(NetConfig(width=8, depth=2, input_depth=4))
    supernet(torch.rand(2, 4, 8, 8)).square().mean().backward()
    for name, logits in supernet.arch_logits.items():
        assert logits.grad is not None and logits.grad.abs().sum() > 0, name


@pytest.mark.parametrize(("decision", "index"), [("spatial", 3), ("spatial", 4), ("transform", 5)])
def test_a_dominant_choice_whose_rivals_underflow_to_zero_keeps_the_output_finite(decision, index):
    """A logit 200 above the others leaves the others' softmax weights exactly 0: the renormalised mixtures must
    not divide 0 by 0."""
    torch.manual_seed(0)
    net = registry.get("spaces", "upsample-cell").build_supernet(NetConfig(width=8, depth=2, input_depth=4))
    with torch.no_grad():
        logits = net.arch_logits[decision]
        logits.zero_()
        logits[index] = 200.0
    out = net(torch.rand(1, 4, 8, 8))
    assert torch.isfinite(out).all()

