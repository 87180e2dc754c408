"""Seed ensembles: restore one problem with ``K`` fits from consecutive seeds and return their average.

Averaging the restorations of several DIP fits that differ only in initialisation and noise is a known quality
gain (each fit's error is partly independent of the others'). The ``K`` fits run packed in one network where
the task allows it (:mod:`nasdip.fit.packed`), so on small images they cost little more than one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import torch

from nasdip.fit.packed import fit_many, results_or_raise
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task


def seed_settings(settings: FitSettings, seeds: int) -> list[FitSettings]:
    """``settings`` with seeds ``seed, seed + 1, ..., seed + seeds - 1``."""
    return [settings.replace(seed=settings.seed + offset) for offset in range(seeds)]


def average_results(task: Task, problem: Problem, results: Sequence[FitResult]) -> FitResult:
    """One result from several fits of ``problem``: the mean output and extras, scored like a single fit.

    Metrics (with ground truth): the task's metrics of the mean output; ``<score>_seed_mean`` and
    ``<score>_seed_sd``, the members' own final scores (the gain of averaging is ``<score> -
    <score>_seed_mean``); ``<score>_max`` and ``<score>_max_step``, the best member's oracle. ``stop_step`` is the
    latest member's; ``holdout_psnr`` the members' mean. ``seconds`` and ``rollbacks`` add up.
    """
    if len(results) == 1:
        return results[0]
    output = torch.stack([result.output for result in results]).mean(dim=0)
    extras = {name: torch.stack([result.extras[name] for result in results]).mean(dim=0)
              for name in results[0].extras}
    metrics: dict[str, float] = {"stop_step": max(result.metrics["stop_step"] for result in results),
                                 "seeds": len(results)}
    heldout = [result.metrics["holdout_psnr"] for result in results if "holdout_psnr" in result.metrics]
    if heldout:
        metrics["holdout_psnr"] = statistics.mean(heldout)
    name = task.score_name
    if problem.clean is not None:
        metrics.update(task.metrics(output, problem.clean.cpu()))
        scores = [result.metrics[name] for result in results]
        metrics[f"{name}_seed_mean"] = statistics.mean(scores)
        metrics[f"{name}_seed_sd"] = statistics.stdev(scores)
        best = max(results, key=lambda result: result.metrics.get(f"{name}_max", -math.inf))
        metrics[f"{name}_max"] = best.metrics[f"{name}_max"]
        metrics[f"{name}_max_step"] = best.metrics[f"{name}_max_step"]
    reasons = {result.stop_reason for result in results}
    first = results[0]
    return FitResult(output=output, metrics=metrics, losses=[], scores=[], iters=max(r.iters for r in results),
                     seconds=sum(r.seconds for r in results), rollbacks=sum(r.rollbacks for r in results),
                     settings=first.settings, device=first.device, extras=extras, precision=first.precision,
                     stop_reason=reasons.pop() if len(reasons) == 1 else "mixed", packed=first.packed)


def fit_seeds(request: FitRequest, seeds: int, pack: bool = True) -> FitResult:
    """Restore the request's problem with ``seeds`` fits (seeds ``settings.seed`` onwards) and average them (one
    seed: the plain fit). Each member reports to its own child of the request's run (tag ``.../seedN``)."""
    if seeds == 1:
        return request.task.fit(request)
    run = request.run
    members = []
    for settings in seed_settings(request.settings, seeds):
        tag = f"{run.tag}/seed{settings.seed}" if run is not None and run.tag else f"seed{settings.seed}"
        members.append(request.replace(settings=settings,
                                       run=None if run is None else run.child(tag, **run.images)))
    results = results_or_raise(fit_many(members, pack=pack, max_members=seeds))
    return average_results(request.task, request.problem, results)
