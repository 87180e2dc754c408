"""Degradation operators: shapes, agreement with kornia/torch, statistics, module forms."""

from __future__ import annotations

import pytest
import torch
from kornia.filters import gaussian_blur2d

from nasdip.ops import (
    Downsample,
    add_gaussian_noise,
    apply_mask,
    bernoulli_mask,
    downsample,
    upsample_bicubic,
)


def test_downsample_is_blur_then_bicubic():
    image = torch.rand(2, 3, 32, 24)
    expected = torch.nn.functional.interpolate(gaussian_blur2d(image, (7, 7), (1.5, 1.5)), size=(8, 6),
                                               mode="bicubic", align_corners=False)
    torch.testing.assert_close(downsample(image, 4), expected)
    torch.testing.assert_close(Downsample(4)(image), expected)


def test_downsample_preserves_constants_and_checks_sizes():
    flat = torch.full((1, 1, 16, 16), 0.3)
    torch.testing.assert_close(downsample(flat, 2), torch.full((1, 1, 8, 8), 0.3))
    with pytest.raises(ValueError, match="not divisible"):
        downsample(torch.rand(1, 3, 10, 10), 4)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        downsample(torch.rand(3, 8, 8), 2)


def test_downsample_is_differentiable():
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    downsample(image, 2).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_bicubic_upsampling_is_clamped():
    up = upsample_bicubic(torch.rand(1, 3, 8, 8), 4)
    assert up.shape == (1, 3, 32, 32) and up.min() >= 0 and up.max() <= 1


def test_noise_statistics_and_seeding():
    image = torch.full((1, 3, 128, 128), 0.5)
    a = add_gaussian_noise(image, 25 / 255, torch.Generator().manual_seed(1))
    b = add_gaussian_noise(image, 25 / 255, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a - 0.5).std().item() == pytest.approx(25 / 255, rel=0.03)
    assert add_gaussian_noise(torch.ones(1, 1, 8, 8), 1.0).max() <= 1.0


def test_bernoulli_mask_fraction_and_application():
    mask = bernoulli_mask(200, 200, 0.5, torch.Generator().manual_seed(0))
    assert mask.shape == (1, 1, 200, 200) and set(mask.unique().tolist()) == {0.0, 1.0}
    assert mask.mean().item() == pytest.approx(0.5, abs=0.01)
    image = torch.rand(1, 3, 200, 200)
    masked = apply_mask(image, mask)
    assert torch.equal(masked[:, :, mask[0, 0] == 0], torch.zeros_like(masked[:, :, mask[0, 0] == 0]))
    with pytest.raises(ValueError):
        bernoulli_mask(4, 4, 1.0)
