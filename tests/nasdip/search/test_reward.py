"""Rewards: a call gives a plain float, ``mean_metric`` averages fits, a context holds what a reward sees."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.search.reward import Reward, RewardContext, fit_problems, mean_metric


def fits(*metrics: dict) -> list[SimpleNamespace]:
    """Stand-ins for fit results: only ``metrics`` is read."""
    return [SimpleNamespace(metrics=m) for m in metrics]


def context(results=()) -> RewardContext:
    return RewardContext(arch=presets()["dip-skip"], task=registry.get("tasks", "denoise")(), problems=[],
                         results=list(results))


@pytest.mark.parametrize("value", [3, np.float32(2.5), torch.tensor(2.5), np.int64(7), True])
def test_a_reward_call_returns_a_python_float(value):
    reward = Reward("constant", lambda c: value)
    result = reward(context())
    assert type(result) is float and result == float(value)


def test_a_reward_sees_its_context():
    seen = []
    reward = Reward("spy", lambda c: seen.append(c) or len(c.results))
    ctx = context(fits({"psnr": 1.0}, {"psnr": 2.0}))
    assert reward(ctx) == 2.0 and seen == [ctx]


def test_a_reward_that_raises_propagates():
    def broken(c):
        raise RuntimeError("no reward today")

    with pytest.raises(RuntimeError, match=r"^no reward today$"):
        Reward("broken", broken)(context())


def test_reward_defaults_and_frozen():
    reward = Reward("r", lambda c: 0.0)
    assert (reward.help, reward.needs_fit, reward.needs_clean, reward.needs_holdout, reward.default, reward.unit) == (
        "", True, True, False, False, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        reward.name = "other"


def test_mean_metric_averages_one_key_over_the_fits():
    results = fits({"psnr": 20.0, "ssim": 0.5}, {"psnr": 23.0, "ssim": 0.25}, {"psnr": 26.5, "ssim": 0.0})
    assert mean_metric(results, "psnr") == pytest.approx((20.0 + 23.0 + 26.5) / 3)
    assert mean_metric(results, "ssim") == pytest.approx(0.25)
    assert mean_metric(fits({"psnr": 19.5}), "psnr") == 19.5


def test_mean_metric_of_a_missing_key_raises():
    with pytest.raises(KeyError, match="holdout_psnr"):
        mean_metric(fits({"psnr": 20.0}), "holdout_psnr")


def test_the_built_in_rewards_are_mean_metrics():
    ctx = context(fits({"psnr": 20.0, "psnr_max": 22.0, "ssim": 0.4, "holdout_psnr": 30.0},
                       {"psnr": 24.0, "psnr_max": 25.0, "ssim": 0.6, "holdout_psnr": 32.0}))
    expected = {"psnr": 22.0, "psnr-max": 23.5, "ssim": 0.5, "holdout": 31.0, "cross-scale": 22.0}
    for name, value in expected.items():
        assert registry.get("rewards", name)(ctx) == pytest.approx(value), name


def test_a_context_defaults_to_no_results_and_no_config():
    fresh = RewardContext(arch=presets()["dip-skip"], task=None, problems=())
    assert fresh.results == [] and fresh.config is None
    other = RewardContext(arch=presets()["dip-skip"], task=None, problems=())
    fresh.results.append("y")
    assert other.results == []  # each context has its own list


def test_a_self_validation_reward_fits_the_tasks_self_validation_problems():
    task = registry.get("tasks", "sr")(scale=2)
    problem = task.observe(torch.rand(1, 3, 17, 19))
    cross_scale = registry.get("rewards", "cross-scale")
    assert cross_scale.self_validation and cross_scale.needs_fit and not cross_scale.needs_clean
    fitted = fit_problems(cross_scale, task, [problem])
    assert fitted[0].output_size == (16, 18) and torch.equal(fitted[0].clean, problem.observation[..., :16, :18])
    assert fit_problems(registry.get("rewards", "holdout"), task, [problem]) == [problem]
    inpaint = registry.get("tasks", "inpaint")()
    with pytest.raises(NasdipError, match="task 'inpaint' has no self-validation problem; choose another reward"):
        fit_problems(cross_scale, inpaint, [problem])


def test_each_task_self_validates_only_its_own_way():
    """Denoising self-validates by recorruption, super-resolution across scales: each refuses the other's reward."""
    denoise, sr = registry.get("tasks", "denoise")(), registry.get("tasks", "sr")(scale=2)
    noisy = denoise.observe(torch.rand(1, 3, 16, 16))
    recorrupted = registry.get("rewards", "recorrupted")
    assert recorrupted.self_validation and recorrupted.needs_fit and not recorrupted.needs_clean
    fitted = fit_problems(recorrupted, denoise, [noisy])
    assert fitted[0].output_size == (16, 16) and torch.allclose(fitted[0].observation + fitted[0].clean,
                                                                2 * noisy.observation, atol=1e-6)
    with pytest.raises(NasdipError, match="reward 'cross-scale' self-validates in a way task 'denoise' does not; "
                                          "its self-validation reward is 'recorrupted'"):
        fit_problems(registry.get("rewards", "cross-scale"), denoise, [noisy])
    with pytest.raises(NasdipError, match="reward 'recorrupted' self-validates in a way task 'sr' does not"):
        fit_problems(recorrupted, sr, [sr.observe(torch.rand(1, 3, 16, 16))])
