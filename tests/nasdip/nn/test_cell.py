"""The upsampling cell: release index conversion, masks, every cell builds, layer arithmetic."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasdip.errors import ArchError
from nasdip.nn.cell import (
    CELL_DECISIONS,
    TRANSFORMS,
    Cell,
    SplitStackSum,
    build_cell,
    cell_allowed,
    replicate_pad,
)


def all_masked_cells() -> list[Cell]:
    """Every combination the masks allow, enumerated decision by decision."""
    cells = [{}]
    for name, choices, _, _ in CELL_DECISIONS:
        cells = [{**c, name: v} for c in cells for v, ok in zip(choices, cell_allowed(name, c), strict=True) if ok]
    return [Cell(**c) for c in cells]


def decode_like_the_design(index: int) -> tuple:
    """The release encoding as docs/release.md describes it, written out independently of nasdip.nn.cell."""
    spatial = ["bilinear", "bicubic", "nearest", "pixel_shuffle"]
    transforms = ["conv", "transposed_conv", "split_stack_sum", "separable_conv", "depthwise_conv"]
    acts = ["none", "relu", "leaky_relu"]
    if index < 252:
        r = index % 63
        if r < 60:
            return spatial[index // 63], "spatial_first", transforms[r // 12], [1, 3, 5, 7][(r // 3) % 4], acts[r % 3]
        return spatial[index // 63], "spatial_first", "identity", 1, acts[r - 60]
    if index < 312:
        r = index - 252
        return "pixel_shuffle", "transform_first", transforms[r // 12], [1, 3, 5, 7][(r // 3) % 4], acts[r % 3]
    return "transposed_conv", "spatial_first", "identity", [1, 3, 5, 7][(index // 3) % 4], acts[index % 3]


BUILDABLE = [i for i in range(324) if i not in (249, 250, 251)]


@pytest.mark.parametrize("index", BUILDABLE)
def test_release_index_round_trip(index):
    cell = Cell.from_release_index(index)
    assert (cell.spatial, cell.order, cell.transform, cell.kernel, cell.activation) == decode_like_the_design(index)
    assert cell.release_index() == index


@pytest.mark.parametrize("index", [249, 250, 251, -1, 324])
def test_unbuildable_release_indices_fail_clearly(index):
    with pytest.raises(ArchError, match=f"{index}"):
        Cell.from_release_index(index)


def test_masks_allow_exactly_the_buildable_release_cells():
    masked = all_masked_cells()
    assert len(masked) == len(set(masked)) == 321
    assert set(masked) == {Cell.from_release_index(i) for i in BUILDABLE}


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (119, ("bicubic", "spatial_first", "depthwise_conv", 5, "leaky_relu")),
        (158, ("nearest", "spatial_first", "split_stack_sum", 5, "leaky_relu")),
        (86, ("bicubic", "spatial_first", "transposed_conv", 7, "leaky_relu")),
        (60, ("bilinear", "spatial_first", "identity", 1, "none")),
    ],
)
def test_released_cells(index, expected):
    assert tuple(Cell.from_release_index(index).to_choices().values()) == expected


def test_invalid_cell_is_rejected():
    with pytest.raises(ArchError, match="transform"):
        Cell("pixel_shuffle", "spatial_first", "identity", 1, "none")


@pytest.mark.parametrize("cell", all_masked_cells(), ids=lambda c: f"{c.release_index()}")
def test_every_cell_builds_and_trains(cell):
    torch.manual_seed(0)
    module = build_cell(cell, 8, 8)
    x = torch.randn(2, 8, 6, 5, requires_grad=True)
    y = module(x)
    assert y.shape == (2, 8, 12, 10)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_cells_build_for_awkward_widths():
    # depthwise after pixel shuffle: 12 -> 3 channels -> 12 (the release needs C_in divisible by C_out)
    for transform in TRANSFORMS[:-1]:
        for order in ("spatial_first", "transform_first"):
            module = build_cell(Cell("pixel_shuffle", order, transform, 3, "relu"), 12, 12)
            assert module(torch.randn(1, 12, 4, 4)).shape == (1, 12, 8, 8)


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell("bicubic", "spatial_first", "depthwise_conv", 5, "leaky_relu"), 128 * 25),
        (Cell("nearest", "spatial_first", "split_stack_sum", 5, "leaky_relu"), 32 * 128 * 25),
        (Cell("bicubic", "spatial_first", "transposed_conv", 7, "leaky_relu"), 128 * 128 * 49 + 128),
        (Cell("bilinear", "spatial_first", "separable_conv", 3, "none"), 128 * 9 + 128 * 128),
        (Cell("pixel_shuffle", "spatial_first", "conv", 3, "none"), 32 * 128 * 9),
        (Cell("pixel_shuffle", "transform_first", "conv", 1, "none"), 128 * 512),
        (Cell("transposed_conv", "spatial_first", "identity", 3, "relu"), 128 * 128 * 9 + 128),
        (Cell("nearest", "spatial_first", "identity", 1, "relu"), 0),
    ],
)
def test_cell_parameter_counts(cell, expected):
    assert params(build_cell(cell, 128, 128)) == expected


@pytest.mark.parametrize("channels", [8, 6])
def test_split_stack_sum_matches_its_definition(channels):
    torch.manual_seed(0)
    layer = SplitStackSum(channels, 5, 3)
    x = torch.randn(2, channels, 7, 7)
    chunk = -(-channels // 4)
    padded = F.pad(x, (0, 0, 0, 0, 0, 4 * chunk - channels))
    summed = sum(padded[:, i * chunk : (i + 1) * chunk] for i in range(4))
    expected = F.conv2d(summed, layer.conv.weight, padding=1)
    torch.testing.assert_close(layer(x), expected)


def test_identity_cell_activation_applies_once():
    module = build_cell(Cell("nearest", "spatial_first", "identity", 1, "leaky_relu"), 4, 4)
    x = -torch.ones(1, 4, 2, 2)
    assert torch.allclose(module(x), torch.full((1, 4, 4, 4), -0.2))


def test_transform_activation_applies_twice():
    module = build_cell(Cell("nearest", "spatial_first", "conv", 1, "leaky_relu"), 1, 1)
    module[2].weight.data.fill_(1.0)
    assert torch.allclose(module(-torch.ones(1, 1, 1, 1)), torch.full((1, 1, 2, 2), -0.04))



@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 4, 1, 3)])
def test_replicate_pad_equals_torch_replication_padding(shape):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    padded, reference = replicate_pad(x, 2), F.pad(x, (2, 2, 2, 2), mode="replicate")
    assert torch.equal(padded, reference)
    upstream = torch.randn_like(reference)
    ours, = torch.autograd.grad(padded, x, upstream)
    theirs, = torch.autograd.grad(reference, x, upstream)
    assert torch.allclose(ours, theirs, atol=1e-12)
