"""Fixtures for analysing searches without running them: synthetic rewards and hand-made run directories."""

from __future__ import annotations

import random

import pytest

from nasdip import registry
from nasdip.arch.document import Arch
from nasdip.search.records import Trial
from nasdip.search.rundir import RunDirectory

FIDELITY = {"iters": 5, "crop": 32, "width": 8}


def synthetic(count: int, seed: int = 0):
    """Random architectures of the ``nasdip`` space whose reward depends on three decisions only: ``spatial``
    (bicubic +2 dB), ``add3_e2`` (+1 dB when on) and ``activation`` (leaky ReLU +1 dB), plus noise (0.3 dB)."""
    space = registry.get("spaces", "nasdip")
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        choices = space.sample(rng).choices
        reward = (20.0 + 2.0 * (choices["spatial"] == "bicubic") + 1.0 * (choices["add3_e2"] == 1)
                  + 1.0 * (choices["activation"] == "leaky_relu") + rng.gauss(0, 0.3))
        samples.append((choices, reward))
    return space, samples


def make_run(path, samples, task="sr", task_values=None, reward="psnr", space="nasdip", fidelity=FIDELITY):
    """A run directory holding one trial per ``(choices, reward)`` sample (reward ``None``: a failed trial)."""
    config = {"searcher": "random", "task": task, "task_values": task_values or {}, "space": space, "reward": reward,
              "seed": 0, "fidelity": fidelity}
    run = RunDirectory(path)
    run.create(config)
    for index, (choices, reward_value) in enumerate(samples):
        arch = Arch(space, dict(choices))
        run.append_trial(Trial(index=index, round=0, arch=arch.to_dict(), digest=arch.digest,
                               status="ok" if reward_value is not None else "failed", reward=reward_value,
                               best_reward=None, seconds=1.0, elapsed=float(index), fidelity=dict(fidelity)))
    return path


@pytest.fixture
def synthetic_samples():
    """``synthetic_samples(count, seed=0)``: see :func:`synthetic`."""
    return synthetic


@pytest.fixture
def search_run():
    """``search_run(path, samples, **config)``: see :func:`make_run`."""
    return make_run
