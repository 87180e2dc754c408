"""Metrics agree with scikit-image's independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from nasdip.ops.metrics import psnr, psnr_y, rgb_to_y, ssim, ssim_y


@pytest.fixture
def pair():
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(1, 3, 48, 40, generator=generator)
    noisy = (clean + 0.08 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    return clean, noisy


def hwc(tensor):
    return tensor[0].permute(1, 2, 0).double().numpy()


def test_psnr_matches_skimage(pair):
    clean, noisy = pair
    assert psnr(noisy, clean).item() == pytest.approx(peak_signal_noise_ratio(hwc(clean), hwc(noisy), data_range=1), abs=1e-4)


def test_psnr_y_with_shave_matches_skimage(pair):
    clean, noisy = pair
    y_clean, y_noisy = (rgb2ycbcr(hwc(t))[..., 0] / 255.0 for t in (clean, noisy))
    expected = peak_signal_noise_ratio(y_clean[4:-4, 4:-4], y_noisy[4:-4, 4:-4], data_range=1)
    assert psnr_y(noisy, clean, border=4).item() == pytest.approx(expected, abs=1e-4)


def test_rgb_to_y_is_studio_range():
    black, white = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    assert rgb_to_y(black).item() == pytest.approx(16 / 255)
    assert rgb_to_y(white).item() == pytest.approx(235 / 255, abs=1e-6)
    grey = torch.full((1, 1, 2, 2), 0.5)
    torch.testing.assert_close(rgb_to_y(grey), rgb_to_y(grey.expand(1, 3, 2, 2)))


def test_ssim_matches_skimage(pair):
    clean, noisy = pair
    expected = structural_similarity(hwc(clean), hwc(noisy), channel_axis=2, data_range=1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim(noisy, clean).item() == pytest.approx(expected, abs=1e-5)


def test_ssim_y_matches_skimage(pair):
    clean, noisy = pair
    y_clean, y_noisy = (rgb2ycbcr(hwc(t))[..., 0] / 255.0 for t in (clean, noisy))
    expected = structural_similarity(y_clean[2:-2, 2:-2], y_noisy[2:-2, 2:-2], data_range=1, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim_y(noisy, clean, border=2).item() == pytest.approx(expected, abs=1e-5)


def test_identical_images():
    image = torch.rand(1, 1, 16, 16)
    assert torch.isinf(psnr(image, image)).all()
    assert ssim(image, image).item() == pytest.approx(1.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one shape"):
        psnr(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_batch_gives_one_value_per_image():
    a, b = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    values = psnr(a, b)
    assert values.shape == (3,)
    np.testing.assert_allclose(values[1].item(), psnr(a[1:2], b[1:2]).item(), rtol=1e-6)


def test_ssim_needs_its_window_after_the_shave():
    image = torch.rand(1, 3, 19, 19, generator=torch.Generator().manual_seed(0))
    assert ssim(image, image, border=4).item() == pytest.approx(1.0)  # 11x11 left: one window
    with pytest.raises(ValueError, match=r"^SSIM needs images of at least 11x11 pixels after shaving 4 border pixels, "
                                         r"got 10x10$"):
        ssim(image[..., :18, :18], image[..., :18, :18], border=4)
    with pytest.raises(ValueError, match="got 0x0"):
        ssim_y(image[..., :8, :8], image[..., :8, :8], border=4)
