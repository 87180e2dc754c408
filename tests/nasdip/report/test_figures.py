"""Figures without pyplot: PNG bytes, files written atomically, tensors for TensorBoard."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from nasdip.report.figures import DPI, figure_png, figure_tensor, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def red_figure(width: float = 2.0, height: float = 1.0) -> Figure:
    """A figure of one flat colour (no axes): every pixel is pure red."""
    return Figure(figsize=(width, height), facecolor=(1.0, 0.0, 0.0))


def plot_figure() -> Figure:
    figure = Figure(figsize=(2, 1.5))
    axis = figure.subplots()
    axis.plot([0, 1, 2], [1, 0, 1], color="blue")
    axis.set_title("curve")
    return figure


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_figure_png_is_a_png_of_the_figures_size():
    png = figure_png(red_figure(2.0, 1.0))
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (2 * DPI, 1 * DPI)


def test_figure_png_renders_the_figure():
    pixels = decoded(figure_png(red_figure()))
    assert (pixels == np.array([255, 0, 0], dtype=np.uint8)).all()
    plotted = decoded(figure_png(plot_figure()))
    assert (plotted[..., 2] > 200).any() and (plotted[..., 0] < 50).any()  # a blue line on white
    assert (plotted == 255).all(axis=-1).mean() > 0.5


def test_save_figure_writes_the_png_and_returns_its_path(tmp_path):
    target = tmp_path / "plots" / "curves.png"  # the folder is created
    figure = plot_figure()
    assert save_figure(figure, target) == target
    assert target.read_bytes().startswith(PNG_SIGNATURE)
    assert np.array_equal(decoded(target.read_bytes()), decoded(figure_png(figure)))
    assert [p.name for p in target.parent.iterdir()] == ["curves.png"]  # no temporary file left


def test_save_figure_accepts_a_string_path(tmp_path):
    assert save_figure(red_figure(), str(tmp_path / "a.png")) == tmp_path / "a.png"


def test_save_figure_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old contents that are longer than nothing" * 1000)
    save_figure(red_figure(1.0, 1.0), target)
    image = Image.open(target)
    assert image.size == (DPI, DPI) and target.read_bytes().startswith(PNG_SIGNATURE)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "curves.png"
    target.write_bytes(b"the previous plot")
    original = Path.write_bytes

    def torn(self, data):
        original(self, data[:10])  # half written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", torn)
    with pytest.raises(OSError, match="No space left on device"):
        save_figure(red_figure(), target)
    assert target.read_bytes() == b"the previous plot"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_a_figure_that_cannot_render_writes_nothing(tmp_path, monkeypatch):
    figure = red_figure()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        save_figure(figure, tmp_path / "curves.png")
    assert list(tmp_path.iterdir()) == []


def test_figure_tensor_is_channels_first_in_the_unit_range():
    tensor = figure_tensor(red_figure(2.0, 1.0))
    assert tensor.shape == (3, DPI, 2 * DPI) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0], torch.ones(DPI, 2 * DPI))
    assert torch.equal(tensor[1:], torch.zeros(2, DPI, 2 * DPI))


def test_figure_tensor_matches_the_png():
    figure = plot_figure()
    tensor = figure_tensor(figure)
    assert tensor.min() == 0.0 and tensor.max() == 1.0  # black text, white background
    pixels = decoded(figure_png(figure))
    assert np.array_equal((tensor * 255).round().to(torch.uint8).permute(1, 2, 0).numpy(), pixels)


def test_a_transparent_figure_becomes_rgb():
    figure = Figure(figsize=(1, 1))
    figure.patch.set_alpha(0.0)
    tensor = figure_tensor(figure)
    assert tensor.shape == (3, DPI, DPI)
