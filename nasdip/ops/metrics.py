"""Image quality metrics on tensors: PSNR (RGB/grey or the BT.601 Y channel, optional border shave) and SSIM.

All functions take ``(N, C, H, W)`` tensors in [0, 1] and return a ``(N,)`` tensor on the same device, so a
fitting loop can evaluate them without a host synchronisation.
"""

from __future__ import annotations

import torch
from kornia.metrics import ssim as kornia_ssim

#: Side of SSIM's Gaussian window: SSIM is defined only where the whole window fits, so an image scored by SSIM
#: must be at least this many pixels on each side after any border shave.
SSIM_WINDOW = 11

#: ITU-R BT.601 luma in studio range: Y = 16 + 65.481 R + 128.553 G + 24.966 B (R, G, B in [0, 1], Y in 0-255).
_BT601 = (65.481, 128.553, 24.966)


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """BT.601 studio-range luma scaled to [0, 1] (16/255 .. 235/255); grey images count as R = G = B."""
    if image.shape[1] == 1:
        image = image.expand(-1, 3, -1, -1)
    weights = image.new_tensor(_BT601).view(1, 3, 1, 1)
    return (16.0 + (image * weights).sum(dim=1, keepdim=True)) / 255.0


def shave(image: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on every side."""
    return image[..., border:-border, border:-border] if border else image


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"metrics need two (N, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def psnr(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 1) per image, after shaving ``border`` pixels."""
    _check_pair(a, b)
    mse = (shave(a, border).float() - shave(b, border).float()).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)


def psnr_y(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    """PSNR on the BT.601 Y channel (the super-resolution convention)."""
    _check_pair(a, b)
    return psnr(rgb_to_y(a.float()), rgb_to_y(b.float()), border)


def ssim(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03), averaged
    over channels and the pixels where the whole window fits, after shaving ``border`` pixels.

    Images smaller than the window (:data:`SSIM_WINDOW`) after the shave have no such pixel: a ``ValueError``
    (tasks refuse them before fitting, see :meth:`nasdip.fit.task.Task.min_output_size`)."""
    _check_pair(a, b)
    a, b = shave(a, border).float(), shave(b, border).float()
    if min(a.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after shaving {border} "
                         f"border pixels, got {a.shape[-1]}x{a.shape[-2]}")
    return kornia_ssim(a, b, window_size=SSIM_WINDOW, max_val=1.0, padding="valid").mean(dim=(1, 2, 3))


def ssim_y(a: torch.Tensor, b: torch.Tensor, border: int = 0) -> torch.Tensor:
    """SSIM on the BT.601 Y channel."""
    _check_pair(a, b)
    return ssim(rgb_to_y(a.float()), rgb_to_y(b.float()), border)
