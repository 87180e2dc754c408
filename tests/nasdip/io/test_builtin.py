"""The built-in photo (matplotlib's Grace Hopper) and the named regions of it that searches use by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from nasdip.errors import NasdipError
from nasdip.io.builtin import BUILTIN_NAME, BUILTIN_REGIONS, builtin_photo, builtin_regions


def test_builtin_photo_is_matplotlibs_grace_hopper():
    photo, info = builtin_photo()
    assert photo.shape == (1, 3, 600, 512) and photo.dtype == torch.float32
    assert (info.channels, info.bits, info.mode) == (3, 8, "RGB")
    assert Path(info.path).name == f"{BUILTIN_NAME}.jpg"
    expected = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    np.testing.assert_array_equal((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), expected)


def test_builtin_photo_is_a_fresh_tensor_each_time():
    first = builtin_photo()[0]
    first.zero_()
    assert builtin_photo()[0].max() > 0.9


@pytest.mark.parametrize("side", [16, 32, 64])
def test_regions_are_the_named_squares_of_the_photo(side):
    photo = builtin_photo()[0]
    regions = builtin_regions(side)
    assert [name for name, _ in regions] == list(BUILTIN_REGIONS) == ["builtin-face", "builtin-jacket"]
    for (name, crop), (top, left) in zip(regions, [(150, 190), (430, 120)], strict=True):
        assert crop.shape == (1, 3, side, side), name
        assert torch.equal(crop, photo[:, :, top : top + side, left : left + side]), name


def test_smaller_regions_share_the_top_left_corner_of_larger_ones():
    small, large = builtin_regions(8), builtin_regions(24)
    for (_, a), (_, b) in zip(small, large, strict=True):
        assert torch.equal(a, b[..., :8, :8])


def test_regions_differ_from_each_other():
    (_, face), (_, jacket) = builtin_regions(32)
    assert (face - jacket).abs().mean() > 0.05


@pytest.mark.parametrize("side", [256, 512])
def test_regions_near_an_edge_move_inwards_and_stay_square(side):
    photo = builtin_photo()[0]
    for name, crop in builtin_regions(side):
        assert crop.shape[-2:] == (side, side), name
        top, left = BUILTIN_REGIONS[name]
        top, left = min(top, photo.shape[-2] - side), min(left, photo.shape[-1] - side)
        assert torch.equal(crop, photo[..., top : top + side, left : left + side])


@pytest.mark.parametrize("side", [0, 513])
def test_a_region_side_the_photo_cannot_hold_is_refused(side):
    with pytest.raises(NasdipError, match=f"^the built-in photo is 512x600: its square crops have sides of 1 to 512 "
                                          f"pixels, not {side}$"):
        builtin_regions(side)
