"""What an executor runs: :class:`EvalJob` (one candidate to evaluate, anywhere) and its :class:`EvalOutcome`.

A job is self-contained and picklable (architecture document, task name and options, problems as CPU tensors,
settings), so executors can run it in another process or on another machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Fidelity:
    """How hard each candidate is fitted: steps, crop side of the search images, network width."""

    iters: int
    crop: int | None
    width: int

    def to_dict(self) -> dict[str, Any]:
        return {"iters": self.iters, "crop": self.crop, "width": self.width}


@dataclass
class EvalJob:
    """Everything needed to evaluate one candidate, anywhere. ``pack``: fit the candidate on its search images
    at once in one packed network where possible (:mod:`nasdip.fit.packed`; the same rewards as one by one)."""

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
