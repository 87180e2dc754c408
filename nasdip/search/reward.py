"""Rewards: how a candidate's restorations of the search images become one number to maximise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.result import FitResult
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.nn.config import NetConfig


@dataclass
class RewardContext:
    """What a reward sees: the candidate, the task, the search problems, (when fitted) the fit results, and the
    network configuration and fitting settings (seed, device) each fit gets."""

    arch: Arch
    task: Task
    problems: Sequence[Problem]
    results: Sequence[FitResult] = field(default_factory=list)
    config: NetConfig | None = None
    settings: FitSettings | None = None


@dataclass(frozen=True)
class Reward:
    """A named reward function.

    ``needs_fit=False`` rewards are computed from the architecture alone (proxies, surrogates): candidates are
    then not fitted at all. ``needs_clean=False`` rewards use no ground truth (searches on observed images);
    ``needs_holdout`` rewards read the held-out pixels' error, so candidates are fitted with some held out.
    ``default`` marks the reward searches use when none is named; ``unit`` labels tables, plots and dashboards
    (``dB``; empty for unitless rewards). ``baseline`` names the task metric that scores like the reward
    (``psnr``): a search then reports what the observation itself earns (the task's naive restoration: noisy,
    bicubic, masked) beside its candidates; ``None`` when no such comparison exists. ``self_validation`` rewards
    fit the task's self-validation problems (:meth:`nasdip.Task.self_validation_problem`, built from each
    observation alone) instead of the search problems and score those fits against their known clean images
    (super-resolution's ``cross-scale``).
    """

    name: str
    function: Callable[[RewardContext], float]
    help: str = ""
    needs_fit: bool = True
    needs_clean: bool = True
    needs_holdout: bool = False
    default: bool = False
    unit: str = ""
    baseline: str | None = None
    self_validation: bool = False

    def __call__(self, context: RewardContext) -> float:
        return float(self.function(context))


def mean_metric(results: Sequence[Any], key: str) -> float:
    """Mean of ``result.metrics[key]`` over the fits."""
    return sum(result.metrics[key] for result in results) / len(results)


def fit_problems(reward: Reward, task: Task, problems: Sequence[Problem]) -> list[Problem]:
    """The problems a candidate is fitted on for ``reward``: ``problems``, or for a ``self_validation`` reward the
    task's self-validation problem of each (one-line errors for a task that does not self-validate the reward's
    way, or too small an image)."""
    if not reward.self_validation:
        return list(problems)
    if task.self_validation not in (None, reward.name):
        raise NasdipError(f"reward {reward.name!r} self-validates in a way task {task.name!r} does not; its "
                          f"self-validation reward is {task.self_validation!r}")
    return [task.self_validation_problem(problem) for problem in problems]
