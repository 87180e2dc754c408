"""The atmospheric scattering model ``I = t * J + (1 - t) * A`` and the dark-channel prior (He et al., 2009).

Functions: :func:`add_haze` (synthesise a hazy image), :func:`dark_channel`, :func:`estimate_airlight`,
:func:`refine_transmission` (kornia's guided filter, guided by the hazy image) and :func:`recover_scene`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from kornia.filters import guided_blur

#: Smallest transmission the model allows (Double-DIP clips t to [0.1, 1]).
MIN_TRANSMISSION = 0.1


def add_haze(clean: torch.Tensor, transmission: torch.Tensor, airlight: torch.Tensor) -> torch.Tensor:
    """``t * J + (1 - t) * A`` for ``J`` ``(N, 3, H, W)``, ``t`` ``(N, 1, H, W)`` and ``A`` ``(N, 3)``.

    Example:
        >>> hazy = add_haze(torch.zeros(1, 3, 4, 4), torch.full((1, 1, 4, 4), 0.5), torch.ones(1, 3))
        >>> float(hazy.mean())
        0.5
    """
    return transmission * clean + (1.0 - transmission) * airlight.view(-1, 3, 1, 1)


def smooth_transmission(height: int, width: int, generator: torch.Generator, beta: float = 1.2) -> torch.Tensor:
    """A plausible transmission map ``exp(-beta * depth)`` for synthetic haze: depth grows towards the top of the
    image (the horizon) with smooth random variation; values are kept in [0.1, 1]."""
    rows = torch.linspace(1.0, 0.2, height).view(1, 1, height, 1).expand(1, 1, height, width)
    bumps = torch.rand(1, 1, 6, 6, generator=generator)
    variation = F.interpolate(bumps, size=(height, width), mode="bicubic", align_corners=False)
    depth = (rows + 0.4 * variation).clamp(0, 2)
    return torch.exp(-beta * depth).clamp(MIN_TRANSMISSION, 1.0)


def dark_channel(image: torch.Tensor, patch: int = 15) -> torch.Tensor:
    """Minimum over colour channels and over a ``patch x patch`` neighbourhood: ``(N, 1, H, W)``."""
    darkest = image.min(dim=1, keepdim=True).values
    before, after = patch // 2, (patch - 1) // 2  # an even patch reaches one pixel further before (as scipy's)
    return -F.max_pool2d(F.pad(-darkest, (before, after, before, after), mode="replicate"), patch, stride=1)


def estimate_airlight(hazy: torch.Tensor, patch: int = 15, fraction: float = 0.001) -> torch.Tensor:
    """The mean colour of the hazy pixels whose dark channel is in the brightest ``fraction``: ``(N, 3)``."""
    dark = dark_channel(hazy, patch).flatten(1)
    count = max(1, int(dark.shape[1] * fraction))
    indices = dark.topk(count, dim=1).indices
    pixels = hazy.flatten(2).gather(2, indices.unsqueeze(1).expand(-1, hazy.shape[1], -1))
    return pixels.mean(dim=2)


def refine_transmission(transmission: torch.Tensor, hazy: torch.Tensor, radius: int = 15,
                        eps: float = 1e-3) -> torch.Tensor:
    """Edge-aware smoothing of ``t`` by kornia's guided filter, guided by the hazy image's luminance."""
    guide = rgb_to_grayscale(hazy) if hazy.shape[1] == 3 else hazy
    size = 2 * radius + 1
    if min(transmission.shape[-2:]) <= size:
        return transmission.clamp(MIN_TRANSMISSION, 1.0)
    return guided_blur(guide, transmission, size, eps).clamp(MIN_TRANSMISSION, 1.0)


def recover_scene(hazy: torch.Tensor, transmission: torch.Tensor, airlight: torch.Tensor) -> torch.Tensor:
    """Invert the scattering model: ``J = (I - A) / max(t, 0.1) + A``, clamped to [0, 1]."""
    a = airlight.view(-1, 3, 1, 1)
    return ((hazy - a) / transmission.clamp_min(MIN_TRANSMISSION) + a).clamp(0, 1)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic total variation)."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean() + (image[..., 1:] - image[..., :-1]).abs().mean()


__all__ = ["add_haze", "dark_channel", "estimate_airlight", "recover_scene",
           "refine_transmission", "smooth_transmission", "total_variation"]
