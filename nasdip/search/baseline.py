"""What the observation itself earns: the task's naive restoration (the noisy input, bicubic upsampling, the
masked image) scored on the search images like a candidate, so a search can say whether its candidates beat doing
nothing."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nasdip.fit.problem import Problem
from nasdip.fit.task import Task
from nasdip.search.jobs import EvalOutcome
from nasdip.search.records import OK
from nasdip.search.reward import Reward

#: The run-directory file of the observation's baseline, and of ``--baseline-arch``'s.
INPUT_BASELINE, ARCH_BASELINE = "baseline.json", "baseline_arch.json"


@dataclass(frozen=True)
class Baseline:
    """A reference score on a set of search images: ``reward`` on the reward's scale, every task metric's mean in
    ``metrics``, ``name`` what it is: the task's naive restoration (its ``baseline_name``: ``noisy``, ``bicubic``,
    ...) or, with ``arch``, an architecture fitted like a candidate (``dip-skip``)."""

    name: str
    reward: float
    metrics: dict[str, float]
    arch: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Baseline | None:
        """The baseline recorded as ``data``, or ``None`` for anything of another shape."""
        try:
            return cls(str(data["name"]), float(data["reward"]), {str(k): float(v) for k, v in data["metrics"].items()},
                       bool(data.get("arch", False)))
        except (TypeError, KeyError, ValueError, AttributeError):
            return None

    def label(self, unit: str) -> str:
        """``noisy input 20.460 dB``, ``dip-skip 27.180 dB``."""
        return f"{self.name}{'' if self.arch else ' input'} {self.reward:.3f}{' ' + unit if unit else ''}"


def arch_baseline(name: str, outcome: EvalOutcome) -> Baseline | None:
    """The baseline of an architecture from its evaluation (``None`` when it failed)."""
    if outcome.status != OK or outcome.reward is None:
        return None
    metrics = {key: float(value) for key, value in outcome.metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return Baseline(name, outcome.reward, metrics, arch=True)


def input_baseline(task: Task, problems: Sequence[Problem], reward: Reward) -> Baseline | None:
    """The baseline of ``problems`` for ``reward``, or ``None`` when the reward has no comparable task metric or
    an image has no clean version (searches on observed images)."""
    if reward.baseline is None or not problems or any(problem.clean is None for problem in problems):
        return None
    scores = [task.metrics(task.baseline(problem).cpu(), problem.clean.cpu()) for problem in problems]
    if any(reward.baseline not in score for score in scores):
        return None
    metrics = {key: statistics.mean(score[key] for score in scores) for key in scores[0]}
    return Baseline(task.baseline_name, metrics[reward.baseline], metrics)
