"""Candidate evaluation: fit an architecture on every search problem and turn the results into a reward.

Evaluation never raises: any error becomes a ``failed`` outcome carrying the error's text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from nasdip import registry
from nasdip.arch.catalog import validate
from nasdip.arch.document import Arch
from nasdip.fit.packed import fit_many, results_or_raise
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.settings import FitSettings
from nasdip.fit.stopping import heldout_psnr
from nasdip.nn.config import NetConfig
from nasdip.search.jobs import EvalJob, EvalOutcome
from nasdip.search.records import FAILED, OK
from nasdip.search.reward import RewardContext, fit_problems

#: Most points of a learning curve an evaluation returns (a fit's curves have one value per step).
CURVE_POINTS = 200


def mean_curves(results: Sequence[FitResult], points: int = CURVE_POINTS) -> dict[str, list[tuple[int, float]]]:
    """The fits' learning curves averaged over the search images, as ``(step, value)`` pairs at most ``points``
    of them: ``loss``, ``psnr`` (the task's score against the clean image) and ``holdout_psnr`` (held-out pixels),
    each where the fits recorded it. Steps are 1-based; a fit that stopped early counts until its last step."""
    series = {"loss": [r.losses for r in results], "psnr": [r.scores for r in results],
              "holdout_psnr": [[heldout_psnr(e) for e in r.heldout] for r in results]}
    curves: dict[str, list[tuple[int, float]]] = {}
    for name, values in series.items():
        length = max((len(v) for v in values), default=0)
        stride = max(1, math.ceil(length / points))
        curve = []
        for index in range(stride - 1, length, stride):
            finite = [v[index] for v in values if index < len(v) and math.isfinite(v[index])]
            if finite:
                curve.append((index + 1, sum(finite) / len(finite)))
        if curve:
            curves[name] = curve
    return curves


def mean_metrics(results: list[Any]) -> dict[str, float]:
    """Each metric the fits report, averaged over the fits that report it."""
    keys = dict.fromkeys(key for result in results for key in result.metrics)
    means = {}
    for key in keys:
        values = [result.metrics[key] for result in results if key in result.metrics]
        means[key] = sum(values) / len(values)
    return means


#: What an evaluation reports while it fits: ``(trial, fraction of its fitting steps done)``.
ProgressCallback = Callable[[int, float], None]


def step_counter(trial: int, fits: int, iters: int, on_progress: ProgressCallback) -> list[Callable[..., None]]:
    """One fit callback per fit of a job: each reports the job's fraction of fitting steps done (all ``fits``
    fits of ``iters`` steps together) to ``on_progress``."""
    done = [0] * fits
    total = fits * iters

    def counter(index: int) -> Callable[..., None]:
        def callback(step: int, metrics: Any) -> None:
            done[index] = step
            on_progress(trial, sum(done) / total)

        return callback

    return [counter(index) for index in range(fits)]


def evaluate(job: EvalJob, on_progress: ProgressCallback | None = None) -> EvalOutcome:
    """Fit the candidate on every problem and compute its reward; errors become a failed outcome.
    ``on_progress`` hears the fraction of fitting steps done at every synchronisation of the fits."""
    start = time.perf_counter()
    try:
        task = registry.get("tasks", job.task)(**job.task_values)
        reward = registry.get("rewards", job.reward)
        arch = validate(Arch.from_dict(job.arch))
        config = NetConfig(**job.config)
        settings = FitSettings(**job.settings)
        problems = fit_problems(reward, task, [Problem.from_dict(p) for p in job.problems])
        requests = [FitRequest(task, problem, arch, config, settings) for problem in problems]
        if on_progress is not None:
            counters = step_counter(job.trial, len(requests), settings.iters, on_progress)
            requests = [request.replace(callbacks=(counter,)) for request, counter in zip(requests, counters, strict=True)]
        results = results_or_raise(fit_many(requests, pack=job.pack)) if reward.needs_fit else []
        value = reward(RewardContext(arch, task, problems, results, config, settings))
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
                       outputs=[result.output for result in results], curves=mean_curves(results))
