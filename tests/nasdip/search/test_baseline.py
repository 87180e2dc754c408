"""What the observation itself scores: the task's naive restoration scored like a candidate, and its record."""

from __future__ import annotations

import pytest

from nasdip import registry
from nasdip.fit.inputs import degrade_set
from nasdip.io.builtin import builtin_regions
from nasdip.search.baseline import Baseline, arch_baseline, input_baseline
from nasdip.search.jobs import EvalOutcome


def test_the_baseline_is_the_mean_score_of_the_naive_restorations():
    task = registry.get("tasks", "sr")(scale=4)
    problems = degrade_set(task, builtin_regions(32), seed=0)
    scores = [task.metrics(task.baseline(problem), problem.clean) for problem in problems]
    baseline = input_baseline(task, problems, registry.get("rewards", "psnr"))
    assert baseline.name == "bicubic"
    assert baseline.reward == pytest.approx(sum(score["psnr"] for score in scores) / len(scores))
    assert baseline.metrics["ssim"] == pytest.approx(sum(score["ssim"] for score in scores) / len(scores))
    ssim = input_baseline(task, problems, registry.get("rewards", "ssim"))
    assert ssim.reward == baseline.metrics["ssim"]  # each reward is compared on its own scale


def test_no_baseline_without_clean_images_or_a_comparable_metric():
    task = registry.get("tasks", "denoise")()
    problems = degrade_set(task, builtin_regions(16), seed=0)
    assert input_baseline(task, problems, registry.get("rewards", "holdout")) is None  # no task metric matches
    observed = [task.observe(problem.observation) for problem in problems]
    assert input_baseline(task, observed, registry.get("rewards", "psnr")) is None
    assert input_baseline(task, [], registry.get("rewards", "psnr")) is None


def test_a_baseline_round_trips_and_reads_labelled():
    baseline = Baseline("noisy", 20.4567, {"psnr": 20.4567, "ssim": 0.3})
    assert Baseline.from_dict(baseline.to_dict()) == baseline
    assert baseline.label("dB") == "noisy input 20.457 dB" and baseline.label("") == "noisy input 20.457"


@pytest.mark.parametrize("data", [None, [], {"name": "noisy"}, {"name": "noisy", "reward": "high", "metrics": {}},
                                  {"name": "noisy", "reward": 1.0, "metrics": []}])
def test_a_record_of_another_shape_is_no_baseline(data):
    assert Baseline.from_dict(data) is None


def test_an_architecture_baseline_is_its_evaluation():
    outcome = EvalOutcome(-1, "ok", reward=27.18, metrics={"psnr": 27.18, "ssim": 0.8, "stop_step": 300,
                                                           "per_image": {"a": {"psnr": 27.0}}, "converged": True})
    baseline = arch_baseline("dip-skip", outcome)
    assert baseline == Baseline("dip-skip", 27.18, {"psnr": 27.18, "ssim": 0.8, "stop_step": 300.0}, arch=True)
    assert baseline.label("dB") == "dip-skip 27.180 dB"  # an architecture, not an input
    assert Baseline.from_dict(baseline.to_dict()) == baseline
    assert arch_baseline("dip-skip", EvalOutcome(-1, "failed", error="RuntimeError: boom")) is None


def test_a_record_written_before_architecture_baselines_is_the_input_baseline():
    assert Baseline.from_dict({"name": "noisy", "reward": 20.0, "metrics": {}}).arch is False
