"""Rewards: how a candidate's restorations of the search images become one number to maximise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasdip.arch import Arch
    from nasdip.fit import FitResult
    from nasdip.nn.config import NetConfig
    from nasdip.task import Problem, Task


@dataclass
class RewardContext:
    """What a reward sees: the candidate, the task, the search problems and (when fitted) the fit results."""

    arch: Arch
    task: Task
    problems: Sequence[Problem]
    results: Sequence[FitResult] = field(default_factory=list)
    config: NetConfig | None = None


@dataclass(frozen=True)
class Reward:
    """A named reward function.

    ``needs_fit=False`` rewards are computed from the architecture alone (proxies, surrogates): candidates are
    then not fitted at all. ``unit`` labels tables, plots and dashboards (``dB``; empty for unitless rewards).
    """

    name: str
    function: Callable[[RewardContext], float]
    help: str = ""
    needs_fit: bool = True
    unit: str = ""

    def __call__(self, context: RewardContext) -> float:
        return float(self.function(context))


def mean_metric(results: Sequence[Any], key: str) -> float:
    """Mean of ``result.metrics[key]`` over the fits."""
    return sum(result.metrics[key] for result in results) / len(results)
