"""Matplotlib figures without pyplot's global state: PNG bytes, atomic files, tensors for TensorBoard."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from nasdip.io.files import atomic_write

DPI = 110


def figure_png(figure: Figure) -> bytes:
    """The figure rendered as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write the figure to ``path`` as PNG, atomically (never a half-written file)."""
    png = figure_png(figure)
    return atomic_write(path, lambda temporary: temporary.write_bytes(png))


def figure_tensor(figure: Figure) -> torch.Tensor:
    """The rendered figure as a ``(3, H, W)`` float tensor in [0, 1] (for ``SummaryWriter.add_image``)."""
    image = Image.open(io.BytesIO(figure_png(figure))).convert("RGB")
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255.0
