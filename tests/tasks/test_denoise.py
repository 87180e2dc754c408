"""Denoising task: the paper's protocol."""

from __future__ import annotations

import pytest
import torch

from nasdip import registry
from nasdip.errors import UsageError


def test_defaults_follow_the_paper():
    settings = registry.get("tasks", "denoise")().settings()
    assert (settings.iters, settings.lr, settings.ema, settings.guard_db) == (3000, 0.01, 0.99, 5.0)
    assert settings.reg_noise == pytest.approx(1 / 30)


def test_degrade_adds_clipped_noise_of_the_requested_sigma():
    task = registry.get("tasks", "denoise")(sigma=50.0)
    clean = torch.full((1, 3, 96, 96), 0.5)
    problem = task.degrade(clean, torch.Generator().manual_seed(0))
    assert (problem.observation - clean).std().item() == pytest.approx(50 / 255, rel=0.05)
    assert problem.observation.min() >= 0 and problem.observation.max() <= 1
    assert torch.equal(task.baseline(problem), problem.observation)
    again = task.degrade(clean, torch.Generator().manual_seed(0))
    assert torch.equal(again.observation, problem.observation)


def test_sigma_must_be_positive():
    with pytest.raises(UsageError, match="--sigma"):
        registry.get("tasks", "denoise")(sigma=0.0)


def test_the_self_validation_problem_recorrupts_the_observation_both_ways():
    """``y + z`` to fit, ``y - z`` to score: their mean is the observation, their noises are independent draws of
    the task's sigma (the clean image is ``2 sigma^2`` from the target in mean square), the same on every call."""
    task = registry.get("tasks", "denoise")(sigma=25.0)
    clean = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    problem = task.degrade(clean, torch.Generator().manual_seed(1), name="photo")
    check = task.self_validation_problem(problem)
    assert check.output_size == (64, 64) and check.name == "photo" and check.observation.shape == clean.shape
    assert torch.allclose((check.observation + check.clean) / 2, problem.observation, atol=1e-6)
    sigma = 25 / 255
    assert ((check.observation - check.clean) / 2).std().item() == pytest.approx(sigma, rel=0.05)
    unclipped = clean.clamp(0.2, 0.8)  # away from the clipping of the observation's noise
    inside = (clean == unclipped)
    assert (clean - check.clean)[inside].square().mean().item() == pytest.approx(2 * sigma**2, rel=0.1)
    again = task.self_validation_problem(problem)
    assert torch.equal(again.observation, check.observation) and torch.equal(again.clean, check.clean)
