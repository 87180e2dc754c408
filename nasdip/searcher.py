"""The searcher interface: propose architectures, learn from their rewards, save and restore state.

The search driver calls :meth:`Searcher.ask` for candidates and :meth:`Searcher.tell` with each candidate's
reward (``None`` when its evaluation failed). A searcher never evaluates candidates itself, except
differentiable ones that need the objective: they get it from ``context`` (see :class:`SearchContext`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nasdip.arch import Arch
from nasdip.space import Space


def _ignore(scalars: dict[str, float], step: int) -> None:
    """Default log sink."""


@dataclass
class SearchContext:
    """What a searcher may know about the run besides its space.

    Only searchers that optimise through the fitting objective itself (``darts``) need ``task``, ``problems``,
    ``settings`` and ``config``; every searcher may ``log`` scalars (controller entropy, mixture weights, ...),
    which reach loggers through the ``searcher_progress`` hook.
    """

    task: Any = None
    problems: list[Any] = field(default_factory=list)
    settings: Any = None
    config: Any = None
    log: Callable[[dict[str, float], int], None] = _ignore


class Searcher(ABC):
    """Base class of search strategies; subclasses set ``name`` and ``help`` and implement ask/tell."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: Searcher-specific settings and their defaults; users override them with ``--searcher-option key=value``.
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, space: Space, seed: int = 0, context: SearchContext | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            from nasdip.errors import UsageError

            known = ", ".join(sorted(self.defaults)) or "none"
            raise UsageError(f"searcher {self.name!r} has no option {unknown[0]!r} (its options: {known})")
        self.space = space
        self.seed = seed
        self.context = context or SearchContext()
        self.options = {**self.defaults, **options}
        self.rng = random.Random(seed)

    @abstractmethod
    def ask(self) -> Arch:
        """The next candidate to evaluate."""

    def ask_batch(self, count: int) -> list[Arch]:
        """``count`` candidates that can be evaluated concurrently (default: ``count`` calls to :meth:`ask`)."""
        return [self.ask() for _ in range(count)]

    @abstractmethod
    def tell(self, arch: Arch, reward: float | None) -> None:
        """The reward of a candidate returned by :meth:`ask` (``None``: its evaluation failed)."""

    def finished(self) -> bool:
        """True when the searcher has nothing more to propose (e.g. a one-shot method after deriving)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """State for resuming (saved with ``torch.save``: tensors, numbers, strings, lists and dicts);
        subclasses extend it."""
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
