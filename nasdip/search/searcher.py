"""The searcher interface: propose architectures, learn from their rewards, save and restore state.

The search driver calls :meth:`Searcher.ask` for candidates and :meth:`Searcher.tell` with each candidate's
reward (``None`` when its evaluation failed). A searcher never evaluates candidates itself, except
those that optimise through the objective itself: they get it from ``context`` (see :class:`SearchContext`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nasdip.arch.document import Arch
from nasdip.arch.space import Space
from nasdip.options import Option, resolve_values
from nasdip.rng import load_python_rng_state, python_rng_state


def _ignore(scalars: dict[str, float], step: int) -> None:
    """Default log sink."""


@dataclass
class FitObjective:
    """The fitting objective of a search: its task, the degraded search images, the per-candidate fit settings
    and network configuration. Searchers that optimise through the objective itself (differentiable or one-shot
    search, zero-cost proxies) use it; others never need it."""

    task: Any
    problems: list[Any]
    settings: Any
    config: Any


@dataclass
class SearchContext:
    """What a searcher may know about the run besides its space: where to ``log`` scalars (controller entropy,
    mixture weights, ...: they reach loggers through the ``searcher_progress`` hook) and the search's
    :class:`FitObjective` (``None`` outside a search)."""

    log: Callable[[dict[str, float], int], None] = _ignore
    objective: FitObjective | None = None


class Searcher(ABC):
    """Base class of search strategies; subclasses set ``name`` and ``help`` and implement ask/tell."""

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: Searcher-specific settings (typed, with defaults); users set them with ``--searcher-option key=value``.
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, space: Space, seed: int = 0, context: SearchContext | None = None, **values: Any) -> None:
        self.space = space
        self.seed = seed
        self.context = context or SearchContext()
        self.values = resolve_values(f"searcher {self.name!r}", self.options, values, as_flags=False)
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

    def tell_round(self, results: Sequence[tuple[Arch, float | None, int]]) -> None:
        """A round's rewards in proposal order, as ``(arch, reward, rung)``; ``rung`` is the fidelity rung of a
        multi-fidelity schedule (0 = cheapest). Rewards are comparable only within one rung.

        Default: the rung-0 rewards go to :meth:`tell` one by one (every candidate of a single-fidelity search,
        and every new candidate of successive halving); searchers that can learn from higher rungs override it.
        """
        for arch, reward, rung in results:
            if rung == 0:
                self.tell(arch, reward)

    def finished(self) -> bool:
        """True when the searcher has nothing more to propose (e.g. a one-shot method after deriving)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """State for resuming (saved with ``torch.save``: tensors, numbers, strings, lists and dicts);
        subclasses extend it."""
        return {"rng": python_rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        load_python_rng_state(self.rng, state["rng"])
