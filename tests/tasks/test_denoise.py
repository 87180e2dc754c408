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
