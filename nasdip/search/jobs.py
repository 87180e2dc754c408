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
    """How hard each candidate is fitted: steps, crop side of the search images, network width. A score rung
    (``score``: a training-free reward's name) fits nothing (``iters`` 0): it scores candidates of the untrained
    network at its crop and width and passes the best ``1/eta`` of them on to the fitted rungs."""

    iters: int
    crop: int | None
    width: int
    score: str | None = None
    eta: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"iters": self.iters, "crop": self.crop, "width": self.width}
        if self.score is not None:
            data.update(score=self.score, eta=self.eta)
        return data


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
    """The result of one :class:`EvalJob`: ``ok`` with a reward, or ``failed`` with an error; ``outputs`` are the
    restorations of the search images, ``curves`` the fits' mean learning curves (:func:`nasdip.search.evaluate.mean_curves`)."""

    trial: int
    status: str
    reward: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    outputs: list[torch.Tensor] = field(default_factory=list)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
