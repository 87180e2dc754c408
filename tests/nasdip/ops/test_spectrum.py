"""Power spectra: the radial profile against a direct numpy computation, white noise flat, a ramp steep."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nasdip.ops.spectrum import (
    band,
    decibels,
    power_spectrum,
    radial_profile,
    ring_centres,
    ring_index,
    rings,
)


def numpy_profile(image: np.ndarray) -> np.ndarray:
    """The ring means of the periodogram, coefficient by coefficient (an independent computation)."""
    height, width = image.shape
    spectrum = np.abs(np.fft.fft2(image - image.mean())) ** 2 / (height * width)
    count = min(height, width) // 2
    sums, totals = np.zeros(count), np.zeros(count)
    for u in range(height):
        for v in range(width):
            fy = (u if u < (height + 1) // 2 else u - height) / height  # cycles per pixel, as numpy's fftfreq
            fx = (v if v < (width + 1) // 2 else v - width) / width
            k = math.floor(math.hypot(fy, fx) / 0.5 * count + 1e-9)
            if k < count:
                sums[k] += spectrum[u, v]
                totals[k] += 1
    return sums / totals


@pytest.mark.parametrize("shape", [(16, 16), (12, 20), (15, 9)])
def test_radial_profile_matches_a_direct_computation(shape):
    image = np.random.default_rng(3).random(shape)
    profile = radial_profile(power_spectrum(torch.from_numpy(image)))
    assert profile.shape == (rings(*shape),)
    np.testing.assert_allclose(profile.numpy(), numpy_profile(image), rtol=1e-10)


def test_parseval_the_spectrum_holds_the_variance():
    image = torch.rand(2, 3, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(power_spectrum(image).mean(dim=(-2, -1)), image.var(dim=(-2, -1), unbiased=False))


def test_white_noise_is_flat_at_its_variance():
    """Each ring's mean is ``sigma^2`` within 5 standard errors: a coefficient's power is exponential (its standard
    deviation is its mean) and a real image's spectrum is symmetric, so half a ring's coefficients are
    independent."""
    sigma, images = 0.1, 64
    noise = sigma * torch.randn(images, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    profile = radial_profile(power_spectrum(noise)).mean(dim=0)[1:]  # ring 0 is the (removed) mean
    independent = torch.bincount(ring_index(32, 32).flatten())[1 : rings(32, 32)] * images / 2
    assert ((profile / sigma**2 - 1).abs() < 5 / independent.sqrt()).all()


def test_a_ramp_falls_steeply():
    """A ramp's spectrum is a sawtooth's: power on its axis only, falling as 1/f^2; a ring's mean spreads those
    two coefficients over a ring whose size grows as f, so it falls as 1/f^3 (30 dB per decade)."""
    ramp = torch.linspace(0, 1, 32, dtype=torch.float64).expand(32, 32)
    level = decibels(radial_profile(power_spectrum(ramp)))
    assert (level[1:].diff() < 0).all()
    slope = (level[8] - level[2]) / math.log10(ring_centres(16)[8] / ring_centres(16)[2])
    assert -33 < slope < -27


def test_every_ring_is_populated_and_the_corners_are_outside():
    index = ring_index(12, 20)
    assert torch.bincount(index.flatten()).min() > 0
    assert index[0, 0] == 0 and index.max() == rings(12, 20)  # the DC term; a corner beyond the Nyquist circle


def test_band_selects_the_ring_centres_inside_it():
    assert band(8, 0.1, 0.4).tolist() == [False, True, True, False, False, False, False, False]
