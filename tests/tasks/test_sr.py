"""Super-resolution task: protocol details and a real restoration close to bicubic at x2."""

from __future__ import annotations

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.nn.config import NetConfig
from nasdip.ops import downsample
from nasdip.ops.metrics import psnr_y


def sr(scale=4):
    return registry.get("tasks", "sr")(scale=scale)


def test_defaults_follow_the_paper():
    assert (sr(4).settings().iters, sr(4).settings().reg_noise, sr(4).settings().lr) == (2000, 0.03, 0.01)
    assert (sr(8).settings().iters, sr(8).settings().reg_noise) == (4000, 0.05)
    with pytest.raises(UsageError, match="--scale must be one of 2, 4, 8"):
        sr(3)


def test_degrade_uses_the_loss_operator_and_crops_to_32():
    task = sr(4)
    clean = torch.rand(1, 3, 100, 70)
    problem = task.degrade(clean, torch.Generator())
    assert problem.clean.shape == (1, 3, 96, 64) and problem.output_size == (96, 64)
    torch.testing.assert_close(problem.observation, downsample(problem.clean, 4))
    assert task.loss(problem.clean, problem).item() == pytest.approx(0.0, abs=1e-12)
    small = task.degrade(torch.rand(1, 3, 50, 42), torch.Generator())  # below 64: crop to a multiple of 4
    assert small.clean.shape == (1, 3, 48, 40)


def test_metrics_are_on_y_with_the_border_shaved():
    task = sr(2)
    clean = torch.rand(1, 3, 32, 32)
    restored = clean.clone()
    restored[..., :2, :] = 0  # damage only the shaved border
    assert torch.isinf(task.score(restored, clean))
    restored[..., 10, 10] = 0
    assert task.score(restored, clean).item() == pytest.approx(psnr_y(restored, clean, border=2).item())


def test_observe_scales_the_output_and_refuses_tiny_images():
    problem = sr(4).observe(torch.rand(1, 3, 10, 12))
    assert problem.output_size == (40, 48) and problem.clean is None
    with pytest.raises(NasdipError, match=r"^the low-resolution image is 4x4; task 'sr' needs at least 5x5 pixels "
                                          r"\(SSIM's 11x11 window must fit in the restoration after shaving 4 "
                                          r"border pixels\); use a larger image$"):
        sr(4).observe(torch.rand(1, 3, 4, 4))
    sr(4).observe(torch.rand(1, 3, 5, 5))  # a 20x20 restoration: 12x12 after the shave


def test_x2_on_a_real_crop_comes_close_to_bicubic():
    # Calibration (2 CPU cores, nasdip-sr, width 16, 64x64 crop, 500 steps): 31.83 / 32.09 dB (seeds 0, 1)
    # against 32.07 dB for bicubic.
    task = sr(2)
    problem = builtin_problem(task, seed=0, crop=64)
    result = task.fit(FitRequest(task, problem, presets()["nasdip-sr"], NetConfig(width=16), task.settings().replace(iters=500, device="cpu")))
    bicubic = task.metrics(task.baseline(problem), problem.clean)["psnr"]
    assert result.metrics["psnr"] > bicubic - 0.6


@pytest.mark.parametrize(("scale", "size", "kept"), [(4, (23, 21), (20, 20)), (4, (20, 27), (20, 24)),
                                                      (2, (17, 19), (16, 18)), (8, (35, 41), (32, 40))])
def test_the_self_validation_problem_downscales_the_observation_once_more(scale, size, kept):
    task = sr(scale)
    problem = task.observe(torch.rand(1, 3, *size), name="photo")
    check = task.self_validation_problem(problem)
    assert check.output_size == kept and check.name == "photo" and task.no_reference_reward == "cross-scale"
    top, left = (size[0] - kept[0]) // 2, (size[1] - kept[1]) // 2
    assert torch.equal(check.clean, problem.observation[..., top:top + kept[0], left:left + kept[1]])
    assert check.observation.shape[-2:] == (kept[0] // scale, kept[1] // scale)
    assert torch.allclose(check.observation, downsample(check.clean, scale))
    assert task.operator(check.clean, check).shape == check.observation.shape  # the fit's loss works


@pytest.mark.parametrize(("scale", "side", "smallest"), [(4, 19, 20), (2, 15, 16), (8, 31, 32)])
def test_a_low_resolution_image_too_small_to_validate_across_scales_is_refused(scale, side, smallest):
    task = sr(scale)
    problem = task.observe(torch.rand(1, 3, side, side + 5))
    with pytest.raises(NasdipError, match=rf"cross-scale self-validation .* needs at least {smallest}x{smallest}"):
        task.self_validation_problem(problem)
    task.self_validation_problem(task.observe(torch.rand(1, 3, smallest, smallest)))
