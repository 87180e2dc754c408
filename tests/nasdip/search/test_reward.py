"""Rewards: a call gives a plain float, ``mean_metric`` averages fits, a context holds what a reward sees."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.search.reward import Reward, RewardContext, mean_metric


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
    expected = {"psnr": 22.0, "psnr-max": 23.5, "ssim": 0.5, "holdout": 31.0}
    for name, value in expected.items():
        assert registry.get("rewards", name)(ctx) == pytest.approx(value), name


def test_a_context_defaults_to_no_results_and_no_config():
    fresh = RewardContext(arch=presets()["dip-skip"], task=None, problems=())
    assert fresh.results == [] and fresh.config is None
    other = RewardContext(arch=presets()["dip-skip"], task=None, problems=())
    fresh.results.append("y")
    assert other.results == []  # each context has its own list
