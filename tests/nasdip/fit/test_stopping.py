"""Automatic stopping: the detectors on synthetic curves with a known turning point, the engine returning the
detected step's output, the held-out error against the true error, and one-line errors for bad settings."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.fit.engine import fit
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.fit.stopping import HoldoutStop, MovingVarianceStop, StopConfig, check_stop_settings, heldout_psnr
from nasdip.fit.task import weighted_mean_square
from nasdip.fit.tracker import heldout_mask
from nasdip.nn.config import NetConfig


def run_detector(detector, values, outputs, sync=25):
    """Feed per-step values; return the step at which the engine would stop (or None) like ``Fitter`` does."""
    for step, (value, output) in enumerate(zip(values, outputs, strict=True), start=1):
        detector.observe(step, output, value)
        if step % sync == 0 and detector.should_stop(step):
            return step
    return None


def test_holdout_detector_finds_the_turning_point_and_keeps_its_output():
    # A held-out error falling until step 400 and rising after it, with noise; each output encodes its step.
    generator = torch.Generator().manual_seed(0)
    steps = torch.arange(1, 1201, dtype=torch.float32)
    error = 0.01 + 1e-7 * (steps - 400).square() + 0.0005 * torch.randn(1200, generator=generator)
    outputs = [torch.full((1, 1, 2, 2), float(step)) for step in range(1, 1201)]
    window, patience = 50, 200
    detector = HoldoutStop(StopConfig("holdout", window, patience, window), torch.device("cpu"))
    stopped = run_detector(detector, list(error), outputs)
    step, output = detector.selection()
    # The mean over the last `window` steps is lowest about window/2 after the turning point.
    assert abs(step - (400 + window // 2)) <= 40
    assert output.flatten()[0].item() == step  # the output of that very step
    assert stopped is not None and step + patience <= stopped < step + patience + 25


def test_moving_variance_detector_finds_the_quietest_stretch():
    # Outputs = image + a(t) * fresh noise with a(t) lowest at step 500: the window's variance is lowest there.
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 8, 8, generator=generator)
    amplitudes = [0.01 + 0.2 * abs(step - 500) / 500 for step in range(1, 1001)]
    outputs = [image + a * torch.randn(image.shape, generator=generator) for a in amplitudes]
    window = 40
    detector = MovingVarianceStop(StopConfig("wmv", window, 150, window), image.numel(), generator,
                                  torch.device("cpu"))
    assert run_detector(detector, [None] * 1000, outputs) is not None
    step, output = detector.selection()
    assert abs(step - (500 + window // 2)) <= 40
    assert torch.equal(output, outputs[step - 1])


def test_moving_variance_matches_a_direct_computation():
    generator = torch.Generator().manual_seed(2)
    outputs = [torch.rand(1, 1, 4, 4, generator=generator) for _ in range(30)]
    detector = MovingVarianceStop(StopConfig("wmv", 7, 5, 7), 16, generator, torch.device("cpu"))
    for step, output in enumerate(outputs, start=1):
        value = detector.criterion(step, output, None)
        if step >= 7:
            stack = torch.stack([o.flatten() for o in outputs[step - 7 : step]])
            assert value.item() == pytest.approx(stack.var(dim=0, unbiased=False).mean().item(), rel=1e-5)


def test_a_monotone_curve_never_fires():
    detector = HoldoutStop(StopConfig("holdout", 10, 50, 10), torch.device("cpu"))
    values = [1.0 / step for step in range(1, 501)]
    assert run_detector(detector, values, [torch.zeros(1)] * 500) is None


@pytest.fixture(scope="module")
def denoise():
    task = registry.get("tasks", "denoise")()
    return task, builtin_problem(task, seed=0, crop=48)


def test_engine_returns_the_detected_steps_output(denoise):
    # Observing pure noise, the held-out error is lowest early and rises as the network fits the kept pixels.
    task, problem = denoise
    from dataclasses import replace

    noise = replace(problem, observation=torch.rand(problem.observation.shape, generator=torch.Generator().manual_seed(3)))
    settings = task.settings().replace(iters=400, device="cpu", stop="holdout", holdout=0.1, stop_window=10,
                                       stop_patience=50, sync_every=10, ema=None)
    settings = FitSettings(**{**settings.to_dict(), "ema": None})
    result = fit(FitRequest(task, noise, presets()["dip-skip"], NetConfig(width=8), settings))
    stop_step = result.metrics["stop_step"]
    assert result.stop_reason == "detected" and stop_step < result.iters <= stop_step + 50 + 10
    # The returned output is the output of the detected step: its PSNR is the one recorded there.
    assert result.metrics["psnr"] == pytest.approx(result.scores[stop_step - 1], abs=1e-4)
    assert result.metrics["holdout_psnr"] == pytest.approx(
        heldout_psnr(sum(result.heldout[stop_step - 10 : stop_step]) / 10), rel=1e-6)


def test_engine_says_when_the_detector_did_not_fire(denoise):
    task, problem = denoise
    settings = task.settings().replace(iters=60, device="cpu", stop="wmv", stop_window=10, stop_patience=500)
    result = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings))
    assert result.stop_reason == "cap" and result.metrics["stop_step"] == 60 and result.iters == 60


def test_holdout_error_is_the_true_error_plus_the_noise_variance(denoise):
    # On held-out pixels (o - y)^2 = (o - x)^2 + (y - x)^2 - 2 (o - x)(y - x) for output o, noisy y, clean x. The
    # network never fitted their noise, so the cross term averages to ~0: the held-out error is the true error
    # plus the noise variance. (Unclipped noise on a mid-grey image: clipping at 0 and 1 would correlate the
    # noise with the image.) Calibration (64x64, 10 %, seeds 0, 1, 2): |cross| / sigma^2 = 0.036, 0.010, 0.015.
    from dataclasses import replace

    task, _ = denoise
    sigma = 25 / 255
    clean = 0.3 + 0.4 * builtin_problem(task, seed=0, crop=64).clean
    noisy = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))
    problem = replace(builtin_problem(task, seed=0, crop=64), observation=noisy, clean=clean)
    for seed in (0, 1):
        settings = task.settings().replace(iters=150, device="cpu", holdout=0.1, seed=seed)
        result = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings))
        mask = heldout_mask(task, problem, 0.1, seed)
        against_noisy = weighted_mean_square(result.output - noisy, mask).item()
        against_clean = weighted_mean_square(result.output - clean, mask).item()
        noise = weighted_mean_square(noisy - clean, mask).item()
        assert abs(against_noisy - against_clean - noise) < 0.2 * sigma**2


def test_heldout_pixels_are_not_fitted(denoise):
    # With every step's loss blind to the held-out pixels, changing their observed values changes nothing.
    task, problem = denoise
    settings = task.settings().replace(iters=20, device="cpu", holdout=0.2, reg_noise=0.0)
    mask = heldout_mask(task, problem, 0.2, 0)
    from dataclasses import replace

    altered = replace(problem, observation=problem.observation * (1 - mask) + mask * 0.5)
    first = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings))
    second = fit(FitRequest(task, altered, presets()["dip-skip"], NetConfig(width=8), settings))
    assert first.losses == second.losses
    assert first.heldout != second.heldout


@pytest.mark.parametrize(("changes", "message"), [
    ({"stop": "wmv", "stop_window": 100, "iters": 100}, r"window \(100 steps\) must be shorter than the step cap"),
    ({"holdout": -0.1}, r"held-out fraction must be in \[0, 0.5\)"),
    ({"holdout": 0.7}, r"held-out fraction must be in \[0, 0.5\)"),
    ({"stop": "holdout"}, "needs a held-out fraction above 0"),
    ({"stop": "sometime"}, "stop rule must be one of iters, auto, wmv, holdout"),
    ({"stop": "auto", "stop_patience": 0, "holdout": 0.1}, "window and patience must be at least 1"),
])
def test_nonsense_stop_settings_are_one_line_errors(changes, message):
    with pytest.raises(NasdipError, match=message):
        FitSettings(**changes)


def test_check_stop_settings_accepts_iters_whatever_the_window():
    check_stop_settings("iters", 10_000, 1, 0.0, 10)
    assert math.isinf(heldout_psnr(0.0))
