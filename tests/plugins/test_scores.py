"""Training-free scores: the spectral distance on images of known spectrum, against a direct numpy computation,
seeded, blind to the clean image, at the observation's size for super-resolution; the image-independent share."""

from __future__ import annotations

import dataclasses
from unittest.mock import patch

import numpy as np
import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import degrade_set
from nasdip.fit.problem import Problem
from nasdip.io.builtin import builtin_regions
from nasdip.nn.config import NetConfig
from nasdip.plugins.scores import (
    BAND,
    histogram_distance,
    log_profile,
    observation_outputs,
    observed,
    profile_distance,
)
from nasdip.search.evaluate import evaluate
from nasdip.search.jobs import EvalJob
from nasdip.search.reward import RewardContext

SMALL = NetConfig(width=4, depth=3)


def white(seed: int, side: int = 32, count: int = 8) -> torch.Tensor:
    """``count`` images of white noise (their spectra are averaged, as a score averages its noise inputs')."""
    return 0.5 + 0.1 * torch.randn(count, 1, side, side, generator=torch.Generator().manual_seed(seed))


def ramp(side: int = 32) -> torch.Tensor:
    return torch.linspace(0, 1, side).expand(1, 1, side, side)


def numpy_distance(output: np.ndarray, observation: np.ndarray) -> float:
    """RMS dB difference of the ring means over the band's rings, coefficient by coefficient."""
    side = output.shape[0]
    count = side // 2
    frequencies = np.fft.fftfreq(side)
    rho = np.hypot(frequencies[:, None], frequencies[None, :]) / 0.5
    ring = np.floor(rho * count + 1e-9).astype(int)

    centres = (np.arange(count) + 0.5) / count
    inside = [k for k in range(count) if BAND[0] <= centres[k] <= BAND[1]]

    def levels(image):
        power = np.abs(np.fft.fft2(image - image.mean())) ** 2 / image.size
        return np.array([10 * np.log10(power[ring == k].mean()) for k in inside])

    return float(np.sqrt(np.mean((levels(output) - levels(observation)) ** 2)))


def test_the_profile_distance_matches_a_direct_computation():
    output, observation = white(1, count=1), ramp()
    expected = numpy_distance(output[0, 0].double().numpy(), observation[0, 0].double().numpy())
    assert profile_distance(output, observation) == pytest.approx(expected, rel=1e-9)


def test_an_observation_s_spectrum_is_computed_once_and_again_when_it_changes():
    """Every candidate is compared with the same observations: their spectra are kept per tensor, and a tensor
    changed in place is analysed afresh."""
    calls = []

    def profile(images):
        calls.append(images.shape)
        return log_profile(images)

    observation = ramp().clone()
    first = observed(observation, observation.device, profile)
    assert observed(observation, observation.device, profile) is first and len(calls) == 1
    observation.mul_(0.5)
    assert not torch.equal(observed(observation, observation.device, profile), first) and len(calls) == 2
    copy = observation.clone()
    assert torch.equal(observed(copy, copy.device, profile), observed(observation, observation.device, profile))
    assert len(calls) == 3
    output = white(1, count=1)
    expected = numpy_distance(output[0, 0].double().numpy(), observation[0, 0].double().numpy())
    assert profile_distance(output, observation) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("distance", [profile_distance, histogram_distance])
def test_an_output_with_the_observation_s_spectrum_is_closer(distance):
    """White noise against white noise of the same variance (a flat spectrum at the same level) is near 0 dB; a
    ramp (its spectrum falling steeply) is far from it, and so is white noise of another level (10x the power)."""
    observation = white(0)
    same = distance(white(1), observation)
    assert same < 1.0
    assert distance(ramp(), observation) > same + 5
    assert distance(0.5 + (white(2) - 0.5) * 10**0.5, observation) == pytest.approx(10, abs=1.5)


def context(task_name: str = "denoise", seed: int = 0, side: int = 16, **values) -> RewardContext:
    task = registry.get("tasks", task_name)(**values)
    problems = degrade_set(task, builtin_regions(side), seed=1)
    settings = task.settings().replace(iters=10, seed=seed, device="cpu")
    return RewardContext(presets()["dip-skip"], task, problems, config=SMALL, settings=settings)


@pytest.mark.parametrize("name", ["psd", "psd-hist", "lowpass"])
def test_scores_are_seeded_and_need_neither_a_fit_nor_the_clean_image(name):
    reward = registry.get("rewards", name)
    assert not reward.needs_fit and not reward.needs_clean
    first = context()
    value = reward(first)
    assert value == reward(context())
    assert value != reward(context(seed=1))
    blind = dataclasses.replace(first, problems=[dataclasses.replace(p, clean=None) for p in first.problems])
    assert reward(blind) == value


def test_the_spectral_score_reads_the_observation_and_the_lowpass_share_does_not():
    """Other observations of the same size change ``psd`` but not the image-independent ``lowpass``."""
    first = context()
    flat = [Problem(torch.full_like(p.observation, 0.5) + 0.1 * torch.rand_like(p.observation), p.output_size)
            for p in first.problems]
    other = dataclasses.replace(first, problems=flat)
    assert registry.get("rewards", "psd")(other) != registry.get("rewards", "psd")(first)
    assert registry.get("rewards", "lowpass")(other) == registry.get("rewards", "lowpass")(first)
    assert 0 < registry.get("rewards", "lowpass")(first) < 1


def test_over_several_problems_the_mean_spectrum_is_closest():
    """Squared distances: an output between two problems' spectra scores best at their mean, not alike everywhere
    between them (as absolute distances would)."""
    low, high = white(0) - 0.5, (white(1) - 0.5) * 10  # 20 dB apart
    problems = [Problem(0.5 + low, (32, 32)), Problem(0.5 + high, (32, 32))]

    def score(gain):
        context = RewardContext(presets()["dip-skip"], registry.get("tasks", "denoise")(), problems)
        output = 0.5 + (white(2) - 0.5) * gain
        with patch("nasdip.plugins.scores.observation_outputs", return_value=[output, output]):
            return registry.get("rewards", "psd")(context)

    assert score(10**0.5) > score(10**0.25) > score(1.0)  # 10 dB above the first: the mean; 5 dB; 0 dB


def test_super_resolution_compares_at_the_observation_s_size():
    sr = context("sr", side=32, scale=4)
    outputs = observation_outputs(sr)
    assert [tuple(o.shape[-2:]) for o in outputs] == [tuple(p.observation.shape[-2:]) for p in sr.problems] == \
        [(8, 8)] * 2
    assert registry.get("rewards", "psd")(sr) < 0


def test_a_search_evaluation_with_a_score_fits_nothing():
    task = registry.get("tasks", "denoise")()
    problems = degrade_set(task, builtin_regions(16), seed=1)
    settings = task.settings().replace(iters=10, device="cpu")
    outcome = evaluate(EvalJob(trial=0, arch=presets()["dip-skip"].to_dict(), task="denoise", task_values={},
                               problems=[p.to_dict() for p in problems], config=SMALL.to_dict(),
                               settings=settings.to_dict(), reward="psd"))
    assert outcome.status == "ok" and outcome.reward < 0
    assert outcome.outputs == [] and "steps" not in outcome.metrics
