"""Inpainting task: masks from files and drop-out, the masked loss, and a real restoration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.nn.config import NetConfig
from nasdip.ops.metrics import psnr


def inpaint(**values):
    return registry.get("tasks", "inpaint")(**values)


def test_defaults_follow_the_paper():
    settings = inpaint().settings()
    assert (settings.iters, settings.lr, settings.reg_noise) == (11000, 0.001, 0.03)


def test_mask_file_white_is_known(tmp_path):
    mask = np.zeros((12, 16), dtype=np.uint8)
    mask[:, :4] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    task = inpaint(mask=str(tmp_path / "m.png"))
    problem = task.observe(torch.rand(1, 3, 12, 16))
    assert problem.extras["mask"].shape == (1, 1, 12, 16) and problem.extras["mask"][..., :4].all() and not problem.extras["mask"][..., 4:].any()
    assert torch.equal(problem.observation[..., 4:], torch.zeros(1, 3, 12, 12))


def test_mask_size_mismatch_and_empty_mask(tmp_path):
    Image.fromarray(np.full((5, 5), 255, dtype=np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(NasdipError, match=r"m\.png: mask is 5x5 but the image is 16x12"):
        inpaint(mask=str(tmp_path / "m.png")).observe(torch.rand(1, 3, 12, 16))
    Image.fromarray(np.zeros((12, 16), dtype=np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(NasdipError, match="marks no pixel as known"):
        inpaint(mask=str(tmp_path / "black.png")).observe(torch.rand(1, 3, 12, 16))


def rgb_mask_file(path, rgb: np.ndarray) -> str:
    Image.fromarray(rgb).save(path)
    return str(path)


def test_an_rgb_file_holding_a_black_and_white_mask_is_accepted(tmp_path):
    rgb = np.full((12, 16, 3), 255, dtype=np.uint8)
    rgb[2:6, 3:9] = 0
    rgb[0, :5] = (255, 200, 255)  # 5 of 192 pixels tinted (JPEG-like noise) stay below the 5% tolerance
    mask = inpaint(mask=rgb_mask_file(tmp_path / "m.png", rgb)).observe(torch.rand(1, 3, 12, 16)).extras["mask"]
    expected = torch.ones(1, 1, 12, 16)
    expected[..., 2:6, 3:9] = 0
    assert torch.equal(mask, expected)


def test_a_colour_image_is_not_a_mask(tmp_path):
    photo = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    with pytest.raises(NasdipError) as caught:
        inpaint(mask=rgb_mask_file(tmp_path / "photo.png", photo)).observe(torch.rand(1, 3, 12, 16))
    coloured = (photo.max(axis=2).astype(int) - photo.min(axis=2) > 0.1 * 255).mean()
    assert str(caught.value) == (f"photo.png: is a colour image ({coloured:.0%} of its pixels coloured), not a mask; "
                                 "a mask is black (missing) and white (known)")


def test_a_grey_photo_is_not_a_mask(tmp_path):
    grey = np.tile(np.linspace(0, 255, 16).astype(np.uint8), (12, 1))  # a ramp: half of it mid-grey
    Image.fromarray(grey).save(tmp_path / "ramp.png")
    with pytest.raises(NasdipError) as caught:
        inpaint(mask=str(tmp_path / "ramp.png")).observe(torch.rand(1, 1, 12, 16))
    undecided = ((grey > 0.25 * 255) & (grey < 0.75 * 255)).mean()
    assert str(caught.value) == (f"ramp.png: {undecided:.0%} of its pixels are neither black nor white, so it is not "
                                 "a mask; a mask is black (missing) and white (known)")


def test_user_image_needs_a_mask():
    with pytest.raises(UsageError, match="needs --mask FILE"):
        inpaint().observe(torch.rand(1, 1, 16, 16))


def test_loss_ignores_missing_pixels():
    task = inpaint()
    clean = torch.rand(1, 1, 32, 32)
    problem = task.degrade(clean, torch.Generator().manual_seed(0))
    corrupted = clean.clone()
    corrupted[problem.extras["mask"].expand_as(clean) == 0] = 1.0
    assert task.loss(corrupted, problem).item() == pytest.approx(0.0, abs=1e-12)
    assert problem.extras["mask"].mean().item() == pytest.approx(0.5, abs=0.06)


def test_missing_pixels_are_recovered():
    # Calibration (2 CPU cores, dip-skip width 16, 64x64 crop, 300 steps at lr 0.01): 28.6 dB over the full
    # image against 7.7 dB for the masked input.
    task = inpaint()
    problem = builtin_problem(task, seed=0, crop=64)
    settings = task.settings().replace(iters=300, lr=0.01, device="cpu")
    result = task.fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=16), settings))
    missing = (problem.extras["mask"] == 0).expand_as(problem.clean)
    restored_missing = psnr(result.output[missing].view(1, 1, 1, -1), problem.clean[missing].view(1, 1, 1, -1))
    empty_missing = psnr(problem.observation[missing].view(1, 1, 1, -1), problem.clean[missing].view(1, 1, 1, -1))
    assert restored_missing.item() > empty_missing.item() + 12.0
    assert result.metrics["psnr"] > 24.0
