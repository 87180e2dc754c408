"""What a search records: one :class:`Trial` per proposed architecture and a :class:`SearchSummary`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from nasdip.arch import Arch

OK, FAILED, DUPLICATE = "ok", "failed", "duplicate"


@dataclass
class Trial:
    """One proposed architecture and what became of it.

    ``status`` is ``ok`` (evaluated), ``failed`` (its evaluation raised: ``error`` says why) or ``duplicate`` (an
    architecture evaluated before: ``duplicate_of`` names that trial, whose reward it repeats).
    ``elapsed`` is the search's wall-clock seconds when the trial finished (across resumes).
    """

    index: int
    round: int
    arch: dict[str, Any]
    digest: str
    status: str
    reward: float | None
    best_reward: float | None
    seconds: float
    elapsed: float
    fidelity: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duplicate_of: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        return cls(**data)

    @property
    def architecture(self) -> Arch:
        return Arch.from_dict(self.arch)


@dataclass
class SearchSummary:
    """A finished (or stopped) search: totals, the best architecture and why it ended."""

    run_dir: Path
    searcher: str
    space: str
    task: str
    trials: int
    evaluated: int
    failed: int
    duplicates: int
    best_reward: float | None
    best_trial: int | None
    best_arch: Arch | None
    seconds: float
    reason: str
    best_output: torch.Tensor | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in asdict(self).items() if key not in ("best_arch", "best_output")}
        data["run_dir"] = str(self.run_dir)
        data["best_arch"] = self.best_arch.to_dict() if self.best_arch else None
        return data
