"""What a search records: one :class:`Trial` per proposed architecture and a :class:`SearchSummary`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasdip.arch.document import Arch

if TYPE_CHECKING:
    import torch

    from nasdip.search.baseline import Baseline

OK, FAILED, DUPLICATE = "ok", "failed", "duplicate"


@dataclass
class Trial:
    """One proposed architecture and what became of it.

    ``status`` is ``ok`` (evaluated), ``failed`` (its evaluation raised: ``error`` says why) or ``duplicate`` (an
    architecture evaluated before: ``duplicate_of`` names that trial, whose reward it repeats).
    ``elapsed`` is the search's wall-clock seconds when the trial finished (across resumes). ``rung`` is the
    fidelity rung the candidate was evaluated at (0 = cheapest; always 0 without a multi-fidelity schedule) and
    ``fidelity`` that rung's steps, crop and width; ``best_reward`` is the best reward at the top rung so far.
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
    rung: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        """The trial recorded as ``data``; a record of the wrong shape or types raises :class:`TypeError`."""
        if not isinstance(data, dict):
            raise TypeError(f"a trial record is a JSON object, got {type(data).__name__}")
        trial = cls(**data)
        for name, kinds in _FIELD_TYPES.items():
            value = getattr(trial, name)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"trial field {name!r} has the wrong type: {value!r}")
        if trial.status not in (OK, FAILED, DUPLICATE):
            raise TypeError(f"trial status must be {OK!r}, {FAILED!r} or {DUPLICATE!r}, got {trial.status!r}")
        if trial.status == OK and trial.reward is None:
            raise TypeError("an evaluated trial has no reward")
        return trial

    @property
    def architecture(self) -> Arch:
        return Arch.from_dict(self.arch)


#: The types :meth:`Trial.from_dict` accepts for each field that readers compute with (booleans never count).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "index": (int,),
    "round": (int,),
    "arch": (dict,),
    "digest": (str,),
    "status": (str,),
    "reward": (int, float, type(None)),
    "best_reward": (int, float, type(None)),
    "seconds": (int, float),
    "elapsed": (int, float),
    "fidelity": (dict,),
    "metrics": (dict,),
    "error": (str, type(None)),
    "duplicate_of": (int, type(None)),
    "rung": (int,),
}


@dataclass
class SearchSummary:
    """A finished (or stopped) search: totals, the best architecture and why it ended, and what the observation
    itself earns on the deployment rung's search images (``baseline``; ``None`` when nothing compares) and, with
    ``--baseline-arch``, what that architecture earns there (``arch_baseline``)."""

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
    best_rung: int = 0
    rungs: int = 1
    baseline: Baseline | None = None
    arch_baseline: Baseline | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in asdict(self).items() if key not in ("best_arch", "best_output")}
        data["run_dir"] = str(self.run_dir)
        data["best_arch"] = self.best_arch.to_dict() if self.best_arch else None
        data["baseline"] = self.baseline.to_dict() if self.baseline else None
        data["arch_baseline"] = self.arch_baseline.to_dict() if self.arch_baseline else None
        return data

    @property
    def below_baseline(self) -> bool:
        """Whether the best candidate scored below the observation itself (no candidate beat doing nothing)."""
        return self.baseline is not None and self.best_reward is not None and self.best_reward < self.baseline.reward
