"""Additive white Gaussian noise: its statistics within sample-size tolerances, clipping, seeding."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip.ops import add_gaussian_noise

SIGMA = 25 / 255
#: Tolerances are this many standard errors of the statistic at the sample size used.
Z = 5.0


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def residual():
    """Noise added to mid-grey (0.5 is over 5 sigma from either bound, so clipping is negligible)."""
    image = torch.full((1, 3, 128, 128), 0.5)
    return (add_gaussian_noise(image, SIGMA, seeded(1)) - image).flatten()


def test_noise_has_zero_mean(residual):
    n = residual.numel()
    assert abs(residual.mean().item()) < Z * SIGMA / math.sqrt(n)


def test_noise_has_the_requested_standard_deviation(residual):
    n = residual.numel()
    # The sample standard deviation of n normal draws has standard error sigma / sqrt(2 n).
    assert residual.std().item() == pytest.approx(SIGMA, abs=Z * SIGMA / math.sqrt(2 * n))


@pytest.mark.parametrize(("k", "expected"), [(1, 0.682689), (2, 0.954500)])
def test_noise_is_normally_distributed(residual, k, expected):
    n = residual.numel()
    within = (residual.abs() < k * SIGMA).float().mean().item()
    assert within == pytest.approx(expected, abs=Z * math.sqrt(expected * (1 - expected) / n))


def test_noise_is_white_neighbouring_pixels_are_uncorrelated(residual):
    field = residual.view(3, 128, 128)
    left, right = field[..., :-1].flatten(), field[..., 1:].flatten()
    correlation = torch.corrcoef(torch.stack([left, right]))[0, 1].item()
    assert abs(correlation) < Z / math.sqrt(left.numel())


def test_a_seeded_generator_reproduces_the_noise_and_another_seed_does_not():
    image = torch.rand(1, 3, 16, 16)
    first = add_gaussian_noise(image, SIGMA, seeded(7))
    assert torch.equal(first, add_gaussian_noise(image, SIGMA, seeded(7)))
    assert not torch.equal(first, add_gaussian_noise(image, SIGMA, seeded(8)))


def test_without_a_generator_the_global_seed_decides():
    image = torch.full((1, 1, 8, 8), 0.5)
    torch.manual_seed(3)
    first = add_gaussian_noise(image, SIGMA)
    torch.manual_seed(3)
    assert torch.equal(first, add_gaussian_noise(image, SIGMA))


def test_one_seed_gives_the_same_noise_whatever_the_image():
    generator = seeded(4)
    a = torch.rand(1, 3, 16, 16, generator=generator) * 0.2 + 0.4
    b = torch.rand(1, 3, 16, 16, generator=generator) * 0.2 + 0.4
    torch.testing.assert_close(add_gaussian_noise(a, 0.01, seeded(5)) - a, add_gaussian_noise(b, 0.01, seeded(5)) - b)


def test_noise_scales_linearly_with_sigma():
    image = torch.full((1, 3, 16, 16), 0.5)
    small = add_gaussian_noise(image, 0.01, seeded(6)) - image
    large = add_gaussian_noise(image, 0.03, seeded(6)) - image
    torch.testing.assert_close(large, 3 * small)


def test_values_are_clipped_to_the_unit_range():
    white = torch.ones(1, 3, 64, 64)
    noisy = add_gaussian_noise(white, SIGMA, seeded(9))
    assert noisy.min() >= 0 and noisy.max() == 1
    # Half of the draws are positive and get clipped to exactly 1.
    n = noisy.numel()
    assert (noisy == 1).float().mean().item() == pytest.approx(0.5, abs=Z * math.sqrt(0.25 / n))
    black = add_gaussian_noise(torch.zeros(1, 3, 64, 64), SIGMA, seeded(9))
    assert black.min() == 0 and black.max() <= 1


def test_clipping_is_the_only_change_to_the_noise():
    # One seed, one draw n: white keeps min(sigma n, 0), black keeps max(sigma n, 0), grey keeps sigma n whole.
    shape = (1, 3, 32, 32)
    white = add_gaussian_noise(torch.ones(shape), SIGMA, seeded(9)) - 1
    black = add_gaussian_noise(torch.zeros(shape), SIGMA, seeded(9))
    grey = add_gaussian_noise(torch.full(shape, 0.5), SIGMA, seeded(9)) - 0.5
    assert (white <= 0).all() and (black >= 0).all()
    torch.testing.assert_close(white + black, grey)


def test_zero_sigma_leaves_an_image_in_range_unchanged():
    image = torch.rand(2, 3, 8, 8)
    assert torch.equal(add_gaussian_noise(image, 0.0, seeded(0)), image)


def test_shape_and_dtype_are_kept_and_the_input_is_not_modified():
    image = torch.rand(2, 1, 9, 7, dtype=torch.float64)
    copy = image.clone()
    noisy = add_gaussian_noise(image, SIGMA, seeded(0))
    assert noisy.shape == image.shape and noisy.dtype == torch.float64
    assert torch.equal(image, copy)
