"""Captioned side-by-side pictures: images kept exactly, captions under their own panel, narrow panels enlarged."""

from __future__ import annotations

import pytest
import torch

from nasdip.io.panels import GAP, Panel, side_by_side


def gradient(channels: int, height: int, width: int, shift: float = 0.0) -> torch.Tensor:
    ramp = torch.linspace(0, 1, height * width).reshape(1, 1, height, width)
    return ((ramp + shift) % 1.0).repeat(1, channels, 1, 1)


def dark_columns(strip: torch.Tensor) -> torch.Tensor:
    """Columns of a caption strip that hold text (any pixel darker than mid-grey)."""
    return (strip.min(dim=1).values[0] < 0.5).any(dim=0)


@pytest.mark.parametrize("channels", [1, 3])
def test_images_are_kept_and_each_caption_sits_under_its_panel(channels):
    images = [gradient(channels, 96, 128, shift) for shift in (0.0, 0.3, 0.6)]
    row = side_by_side([Panel(images[0], ("input", "PSNR 20.28 dB")), Panel(images[1], ("restored",)),
                        Panel(images[2])])
    assert row.shape[:2] == (1, channels) and row.shape[-1] == 3 * 128 + 2 * GAP and row.shape[-2] > 96
    for index, image in enumerate(images):
        left = index * (128 + GAP)
        assert torch.equal(row[..., :96, left : left + 128], (image * 255).round() / 255)  # 8-bit levels
    assert (row[..., :, 128 : 128 + GAP] == 1).all()  # the gaps stay white, text included
    text = dark_columns(row[..., 96:, :])
    assert text[:128].any() and text[128 + GAP : 256 + GAP].any() and not text[256 + 2 * GAP :].any()
    two_lines = (row[..., 96:, :128].min(dim=1).values[0] < 0.5).any(dim=1).nonzero()
    one_line = (row[..., 96:, 128 + GAP : 256 + GAP].min(dim=1).values[0] < 0.5).any(dim=1).nonzero()
    assert two_lines.max() > one_line.max()  # the second caption line is drawn below the first


def test_narrow_panels_are_enlarged_until_the_caption_fits():
    image = gradient(3, 16, 16)
    row = side_by_side([Panel(image, ("ground truth",)), Panel(image, ("PSNR 31.25 dB",))])
    zoom = (row.shape[-1] - GAP) // 2 // 16
    assert zoom > 1 and row.shape[-1] == 2 * 16 * zoom + GAP
    enlarged = image.repeat_interleave(zoom, dim=2).repeat_interleave(zoom, dim=3)
    assert torch.equal(row[..., : 16 * zoom, : 16 * zoom], (enlarged * 255).round() / 255)
    text = dark_columns(row[..., 16 * zoom :, :])
    assert text[: 16 * zoom].any() and not text[16 * zoom : 16 * zoom + GAP].any()


def test_panels_must_match():
    with pytest.raises(ValueError, match="share height and channel count"):
        side_by_side([Panel(gradient(3, 8, 8)), Panel(gradient(1, 8, 8))])
