"""Inpainting masks: random pixel drop-out and applying a mask (1 = known pixel, 0 = missing)."""

from __future__ import annotations

import torch


def bernoulli_mask(height: int, width: int, drop: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A ``(1, 1, H, W)`` mask keeping a pixel where ``U > drop`` (``drop`` = fraction missing, 0.5 in the paper).

    Example:
        >>> mask = bernoulli_mask(64, 64, 0.5, torch.Generator().manual_seed(0))
        >>> bool(abs(mask.mean() - 0.5) < 0.05)
        True
    """
    if not 0.0 <= drop < 1.0:
        raise ValueError(f"drop must be in [0, 1), got {drop}")
    uniform = torch.rand((1, 1, height, width), generator=generator)
    return (uniform > drop).float()


def apply_mask(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the missing pixels: ``image * mask`` (the mask broadcasts over channels)."""
    return image * mask
