"""Candidate evaluation: fit an architecture on every search problem and turn the results into a reward.

An :class:`EvalJob` is self-contained and picklable (architecture document, task name and options, problems as
CPU tensors, settings), so executors can run it in another process or on another machine. Evaluation never
raises: any error becomes a ``failed`` outcome carrying the error's text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from nasdip.search.records import FAILED, OK
from nasdip.task import Problem


@dataclass(frozen=True)
class Fidelity:
    """How hard each candidate is fitted: steps, crop side of the search images, network width."""

    iters: int
    crop: int | None
    width: int

    def to_dict(self) -> dict[str, Any]:
        return {"iters": self.iters, "crop": self.crop, "width": self.width}


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """A problem as plain tensors and values (for ``torch.save`` and pickling)."""
    return {"observation": problem.observation, "output_size": list(problem.output_size), "clean": problem.clean,
            "name": problem.name, "extras": dict(problem.extras)}


def problem_from_dict(data: dict[str, Any]) -> Problem:
    """The inverse of :func:`problem_to_dict` (run directories written before masks moved into ``extras``
    included)."""
    extras = dict(data.get("extras", {}))
    if data.get("mask") is not None:
        extras.setdefault("mask", data["mask"])
    return Problem(data["observation"], tuple(data["output_size"]), clean=data["clean"], name=data["name"],
                   extras=extras)


@dataclass
class EvalJob:
    """Everything needed to evaluate one candidate, anywhere. ``pack``: fit the candidate on its search images
    at once in one packed network where possible (:mod:`nasdip.packed_fit`; the same rewards as one by one)."""

    trial: int
    arch: dict[str, Any]
    task: str
    task_values: dict[str, Any]
    problems: list[dict[str, Any]]
    config: dict[str, Any]
    settings: dict[str, Any]
    reward: str
    pack: bool = True


@dataclass
class EvalOutcome:
    """The result of one :class:`EvalJob`: ``ok`` with a reward, or ``failed`` with an error."""

    trial: int
    status: str
    reward: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    outputs: list[torch.Tensor] = field(default_factory=list)


def mean_metrics(results: list[Any]) -> dict[str, float]:
    """Each metric the fits report, averaged over the fits that report it."""
    keys = dict.fromkeys(key for result in results for key in result.metrics)
    means = {}
    for key in keys:
        values = [result.metrics[key] for result in results if key in result.metrics]
        means[key] = sum(values) / len(values)
    return means


def evaluate(job: EvalJob) -> EvalOutcome:
    """Fit the candidate on every problem and compute its reward; errors become a failed outcome."""
    from nasdip import registry
    from nasdip.arch import Arch
    from nasdip.catalog import validate
    from nasdip.fit import FitSettings
    from nasdip.nn.config import NetConfig
    from nasdip.packed_fit import fit_many, results_or_raise
    from nasdip.reward import RewardContext

    start = time.perf_counter()
    try:
        task = registry.get("tasks", job.task)(**job.task_values)
        reward = registry.get("rewards", job.reward)
        arch = validate(Arch.from_dict(job.arch))
        config = NetConfig(**job.config)
        settings = FitSettings(**job.settings)
        problems = [problem_from_dict(p) for p in job.problems]
        results = (results_or_raise(fit_many(task, problems, arch, config, [settings] * len(problems), pack=job.pack))
                   if reward.needs_fit else [])
        value = reward(RewardContext(arch, task, problems, results, config))
        if not math.isfinite(value):
            raise FloatingPointError(f"reward is {value}")
    except Exception as error:  # a failing candidate never kills a search
        return EvalOutcome(job.trial, FAILED, seconds=time.perf_counter() - start,
                           error=f"{type(error).__name__}: {error}".strip())
    metrics: dict[str, Any] = {}
    if results:
        metrics.update(mean_metrics(results))
        metrics["per_image"] = {problem.name: result.metrics for problem, result in zip(problems, results, strict=True)}
        metrics["rollbacks"] = sum(result.rollbacks for result in results)
        # Compute spent: fitting steps run, and steps x output pixels, over the search images.
        metrics["steps"] = sum(result.iters for result in results)
        metrics["step_pixels"] = sum(result.iters * result.output.shape[-2] * result.output.shape[-1]
                                     for result in results)
    return EvalOutcome(job.trial, OK, reward=value, metrics=metrics, seconds=time.perf_counter() - start,
                       outputs=[result.output for result in results])
