"""Centre crops: windows checked against slicing by hand, multiples, squares capped at the image, clear errors."""

from __future__ import annotations

import re

import pytest
import torch

from nasdip.errors import NasdipError
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import center_crop, crop_square, crop_to_multiple


def ramp(*shape: int) -> torch.Tensor:
    """A tensor whose every element is distinct, so any misplaced window shows."""
    return torch.arange(torch.Size(shape).numel(), dtype=torch.float32).view(shape)


@pytest.mark.parametrize(
    ("height", "width", "top", "left"),
    [(4, 6, 3, 2), (5, 5, 2, 3), (10, 11, 0, 0), (1, 1, 4, 5), (9, 10, 0, 0)],
)
def test_center_crop_takes_the_centred_window(height, width, top, left):
    image = ramp(1, 2, 10, 11)
    crop = center_crop(image, height, width)
    assert crop.shape == (1, 2, height, width)
    assert torch.equal(crop, image[:, :, top : top + height, left : left + width])


def test_center_crop_leaves_the_odd_pixel_below_and_right():
    image = ramp(7, 8)  # 7 rows -> 4: 1 above, 2 below; 8 columns -> 5: 1 left, 2 right
    assert torch.equal(center_crop(image, 4, 5), image[1:5, 1:6])


@pytest.mark.parametrize("shape", [(10, 12), (3, 10, 12), (2, 3, 10, 12)])
def test_center_crop_keeps_the_leading_dimensions(shape):
    image = ramp(*shape)
    crop = center_crop(image, 6, 8)
    assert crop.shape == (*shape[:-2], 6, 8)
    assert torch.equal(crop, image[..., 2:8, 2:10])


@pytest.mark.parametrize(("height", "width"), [(11, 4), (4, 12), (11, 12)])
def test_center_crop_larger_than_the_image_is_refused(height, width):
    message = f"cannot crop {height}x{width} from a 10x11 image"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        center_crop(ramp(1, 3, 10, 11), height, width)


def test_crop_to_multiple_centres_the_largest_multiple():
    image = ramp(1, 3, 70, 100)  # -> 64x96: 3 rows dropped above, 3 below; 2 columns left, 2 right
    crop = crop_to_multiple(image, 32)
    assert torch.equal(crop, image[..., 3:67, 2:98])


@pytest.mark.parametrize("multiple", [1, 4, 8])
def test_crop_to_multiple_keeps_an_image_that_already_fits(multiple):
    image = ramp(1, 1, 16, 24)
    assert torch.equal(crop_to_multiple(image, multiple), image)


def test_crop_to_multiple_of_the_builtin_photo():
    photo = builtin_photo()[0]
    crop = crop_to_multiple(photo, 32)  # 600x512 -> 576x512
    assert crop.shape == (1, 3, 576, 512)
    assert torch.equal(crop, photo[..., 12:588, :])


def test_crop_square_none_keeps_the_image_whole():
    image = ramp(1, 3, 5, 9)
    assert crop_square(image, None) is image


def test_crop_square_cuts_a_centred_square():
    image = ramp(1, 3, 20, 30)
    assert torch.equal(crop_square(image, 8), image[..., 6:14, 11:19])


def test_crop_square_caps_each_side_at_the_image():
    image = ramp(1, 3, 20, 40)
    assert torch.equal(crop_square(image, 30), image[..., :, 5:35])  # height capped at 20
    assert torch.equal(crop_square(image, 100), image)


@pytest.mark.parametrize(("height", "width"), [(0, 3), (3, -2)])
def test_an_empty_crop_is_refused(height, width):
    with pytest.raises(NasdipError, match=rf"^cannot crop {height}x{width} pixels: a crop needs at least one pixel"):
        center_crop(torch.zeros(1, 1, 8, 8), height, width)


def test_an_image_smaller_than_the_multiple_is_refused():
    with pytest.raises(NasdipError, match=r"^a 20x40 image has no centre crop whose sides are multiples of 32$"):
        crop_to_multiple(torch.zeros(1, 3, 20, 40), 32)
