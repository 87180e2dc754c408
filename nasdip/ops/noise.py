"""Additive white Gaussian noise, clipped to [0, 1] (the DIP denoising protocol)."""

from __future__ import annotations

import torch


def add_gaussian_noise(image: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``clip(image + N(0, sigma^2), 0, 1)``; ``sigma`` on the [0, 1] scale (25/255 for the paper).

    Example:
        >>> noisy = add_gaussian_noise(torch.full((1, 3, 8, 8), 0.5), 25 / 255, torch.Generator().manual_seed(0))
        >>> bool(((noisy - 0.5).std() - 25 / 255).abs() < 0.03)
        True
    """
    noise = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    return (image + sigma * noise).clamp(0, 1)
