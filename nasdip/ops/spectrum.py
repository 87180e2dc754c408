"""Power spectra of images: the periodogram, rings of radial frequency and the radially averaged spectrum.

Radial frequency ``rho`` is normalised so that 1 is the Nyquist frequency along an axis (half a cycle per pixel).
An ``H x W`` image has ``n = min(H, W) // 2`` rings: ring ``k`` holds the frequencies with ``k/n <= rho < (k+1)/n``
(ring 0 is the mean alone; the corners beyond the Nyquist circle belong to no ring). Every function takes
``(..., H, W)`` tensors and keeps the leading dimensions.
"""

from __future__ import annotations

import functools

import torch

#: Power below this is clamped before taking logarithms (a constant image has none).
POWER_FLOOR = 1e-12


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """The periodogram ``|FFT(x - mean)|^2 / (H W)`` of each ``(H, W)`` plane (white noise of variance ``s^2`` has
    ``s^2`` at every frequency but the mean's)."""
    height, width = images.shape[-2:]
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    coefficients = torch.fft.fft2(centred)
    return (coefficients.real.square() + coefficients.imag.square()) / (height * width)  # not abs(): no hypot


@functools.lru_cache(maxsize=64)
def radial_frequency(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W)`` normalised radial frequency of each FFT coefficient (1 = Nyquist along an axis; one tensor per
    size and device, shared: do not modify it)."""
    fy = torch.fft.fftfreq(height, device=device, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, device=device, dtype=torch.float64)
    return torch.sqrt(fy[:, None].square() + fx[None, :].square()) / 0.5


def rings(height: int, width: int) -> int:
    """How many rings an ``H x W`` spectrum has."""
    return min(height, width) // 2


@functools.lru_cache(maxsize=64)
def ring_index(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W)`` ring of each FFT coefficient; :func:`rings` for the corners outside every ring (shared: do not
    modify it)."""
    count = rings(height, width)
    # The tolerance keeps a frequency that lies exactly on a ring's inner edge (k/n) in ring k despite rounding.
    index = torch.floor(radial_frequency(height, width, device) * count + 1e-9).long()
    return index.clamp(max=count)


def ring_centres(count: int) -> torch.Tensor:
    """Normalised radial frequency at the middle of each of ``count`` rings."""
    return (torch.arange(count, dtype=torch.float64) + 0.5) / count


def radial_profile(power: torch.Tensor) -> torch.Tensor:
    """The mean of ``(..., H, W)`` spectra over each ring: ``(..., rings)``."""
    height, width = power.shape[-2:]
    count = rings(height, width)
    index = ring_index(height, width, power.device).flatten()
    inside = index < count
    values = power.flatten(-2)[..., inside]
    sums = values.new_zeros((*power.shape[:-2], count)).index_add_(-1, index[inside], values)
    totals = torch.bincount(index[inside], minlength=count).to(values.dtype)
    return sums / totals


def band(count: int, low: float, high: float) -> torch.Tensor:
    """``(count,)`` mask of the rings whose centres lie in ``[low, high]``."""
    centres = ring_centres(count)
    return (centres >= low) & (centres <= high)


def decibels(power: torch.Tensor) -> torch.Tensor:
    """``10 log10(power)``, floored at :data:`POWER_FLOOR`."""
    return 10 * torch.log10(power.clamp_min(POWER_FLOOR))
