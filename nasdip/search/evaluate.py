"""Candidate evaluation: fit an architecture on every search problem and turn the results into a reward.

Evaluation never raises: any error becomes a ``failed`` outcome carrying the error's text.
"""

from __future__ import annotations

import math
import time
from typing import Any

from nasdip import registry
from nasdip.arch.catalog import validate
from nasdip.arch.document import Arch
from nasdip.fit.packed import fit_many, results_or_raise
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig
from nasdip.search.jobs import EvalJob, EvalOutcome
from nasdip.search.records import FAILED, OK
from nasdip.search.reward import RewardContext


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
    start = time.perf_counter()
    try:
        task = registry.get("tasks", job.task)(**job.task_values)
        reward = registry.get("rewards", job.reward)
        arch = validate(Arch.from_dict(job.arch))
        config = NetConfig(**job.config)
        settings = FitSettings(**job.settings)
        problems = [Problem.from_dict(p) for p in job.problems]
        requests = [FitRequest(task, problem, arch, config, settings) for problem in problems]
        results = results_or_raise(fit_many(requests, pack=job.pack)) if reward.needs_fit else []
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
