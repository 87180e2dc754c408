"""Fidelity schedules: which candidates are evaluated at which rung of a fidelity ladder, round by round.

A ladder is a list of fidelities (steps, crop side, width), cheapest first; the last rung is the deployment
fidelity. Rewards are compared only within a rung.

* ``none``: one fidelity; the searcher proposes ``batch`` candidates a round until ``budget`` evaluations.
* ``halving``: successive halving (Jamieson & Talwalkar 2016). A bracket of ``eta**(rungs - 1)`` candidates is
  evaluated at rung 0; the best ``1/eta`` go up a rung, and so on to the top. ``budget`` counts candidates and
  must hold at least one bracket.
* ``hyperband``: Hyperband (Li et al. 2017) cycles brackets that start at every rung: from many candidates at
  the cheapest rung to a few evaluated directly at the top, hedging against a misleading cheap fidelity.
* ``asha``: asynchronous successive halving (Li et al. 2020) played in rounds of ``batch`` jobs: each job
  promotes a finished candidate that is in the top ``1/eta`` of its rung and not yet promoted (highest rung
  first), or else starts a new candidate. Decisions are taken between rounds, so the same seed gives the same
  search whatever the executor.
* ``asha-async``: ASHA as published: the same promotion rule, decided the moment a worker is free (no rounds,
  no worker waits for the slowest job of a round). The search then depends on which job finishes first: with
  several workers the same seed need not give the same search.

Each schedule's state is plain data for ``torch.save`` so that a search resumes exactly.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nasdip.arch.document import Arch
from nasdip.errors import UsageError
from nasdip.search.jobs import Fidelity
from nasdip.search.searcher import Searcher

SCHEDULES = ("none", "halving", "hyperband", "asha", "asha-async")


@dataclass(frozen=True)
class Job:
    """One evaluation a round asks for: ``arch`` at rung ``rung``."""

    arch: Arch
    rung: int


def geometric_iters(min_iters: int, max_iters: int, eta: int) -> list[int]:
    """Steps per rung: ``min_iters * eta**k`` below ``max_iters``, then ``max_iters``."""
    if eta < 2:
        raise UsageError(f"--eta must be at least 2, got {eta}")
    if max_iters <= min_iters:
        raise UsageError(f"--max-iters ({max_iters}) must be above --min-iters ({min_iters})")
    iters = []
    value = min_iters
    while value < max_iters:
        iters.append(value)
        value *= eta
    return [*iters, max_iters]


def build_ladder(iters: Sequence[int], crops: Sequence[int | None], widths: Sequence[int]) -> list[Fidelity]:
    """Rungs from per-rung steps and crop/width lists (one value for every rung, or one per rung); every rung
    must cost at least as much as the one below in each of steps, crop and width, and more in one."""

    def expand(values: Sequence[Any], what: str) -> list[Any]:
        if len(values) == 1:
            return list(values) * len(iters)
        if len(values) != len(iters):
            raise UsageError(f"{what} gives {len(values)} values for {len(iters)} rungs; give one, or one per rung")
        return list(values)

    crops, widths = expand(crops, "--ladder-crops"), expand(widths, "--ladder-widths")
    ladder = [Fidelity(iters=i, crop=c, width=w) for i, c, w in zip(iters, crops, widths, strict=True)]
    for lower, upper in itertools.pairwise(ladder):
        steps = (lower.iters, lower.crop or 0, lower.width), (upper.iters, upper.crop or 0, upper.width)
        if any(b < a for a, b in zip(*steps, strict=True)) or steps[0] == steps[1]:
            raise UsageError(f"the fidelity ladder must increase from rung to rung: {lower.to_dict()} is followed "
                             f"by {upper.to_dict()}")
    return ladder


class Schedule(ABC):
    """Plans rounds of evaluations and learns which candidates go up the ladder."""

    name: ClassVar[str] = ""
    #: Whether jobs are planned one at a time as workers free up (:meth:`next_job`) instead of in rounds.
    asynchronous: ClassVar[bool] = False

    def __init__(self, rungs: int, budget: int, batch: int, eta: int) -> None:
        self.rungs, self.budget, self.batch, self.eta = rungs, budget, batch, eta

    @abstractmethod
    def next_round(self, searcher: Searcher, evaluated: int) -> list[Job] | None:
        """The next round's jobs (asking ``searcher`` for new candidates), or ``None`` when the budget is spent.
        ``evaluated`` counts the evaluations so far (duplicates excluded)."""

    @abstractmethod
    def completed(self, jobs: Sequence[Job], rewards: Sequence[float | None]) -> None:
        """The rewards of a round's jobs (``None``: failed), in job order."""

    @abstractmethod
    def exhausted(self, evaluated: int) -> bool:
        """Whether the budget is spent (no round is left to play)."""

    def needs_candidates(self) -> bool:
        """Whether the next round starts new candidates (a finished or converged searcher ends the search)."""
        return True

    def planned_evaluations(self) -> int | None:
        """How many evaluations the budget plans (for progress bars), or ``None`` when results decide it."""
        return None

    def planned_candidates(self) -> int:
        """How many new candidates the budget plans to start (a score rung scores ``eta`` times as many)."""
        return self.budget

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class SingleFidelity(Schedule):
    """Every candidate at the one fidelity; ``budget`` counts evaluations."""

    name = "none"

    def planned_evaluations(self):
        return self.budget

    def exhausted(self, evaluated):
        return evaluated >= self.budget

    def next_round(self, searcher, evaluated):
        if self.exhausted(evaluated):
            return None
        return [Job(arch, 0) for arch in searcher.ask_batch(min(self.batch, self.budget - evaluated))]

    def completed(self, jobs, rewards):
        pass


def survivors(jobs: Sequence[Job], rewards: Sequence[float | None], keep: int) -> list[Arch]:
    """The ``keep`` best candidates of a rung (ties in job order); failed candidates never go up."""
    ranked = sorted((i for i in range(len(jobs)) if rewards[i] is not None), key=lambda i: (-rewards[i], i))
    return [jobs[i].arch for i in ranked[:keep]]


class SuccessiveHalving(Schedule):
    """Brackets of ``eta**(rungs - 1)`` candidates halved (by ``eta``) from rung 0 to the top."""

    name = "halving"

    def __init__(self, rungs, budget, batch, eta) -> None:
        super().__init__(rungs, budget, batch, eta)
        self.brackets = self.plan()
        if not self.brackets:
            raise UsageError(f"--budget {budget} is smaller than one bracket of the {self.name} schedule "
                             f"({self.bracket_sizes()[0]} candidates with --eta {eta} and {rungs} rungs)")
        self.bracket = 0  # brackets started
        self.rung = 0
        self.members: list[Arch] = []

    def bracket_sizes(self) -> list[int]:
        return [self.eta ** (self.rungs - 1)]

    def planned_evaluations(self):
        """Every bracket's candidates at its first rung, and the survivors (a ``1/eta`` each time) above it."""
        total = 0
        for index, size in enumerate(self.brackets):
            for _ in range(self.start_rung(index), self.rungs):
                total += size
                size = max(1, size // self.eta)
        return total

    def planned_candidates(self):
        return sum(self.brackets)

    def start_rung(self, bracket: int) -> int:
        return 0

    def plan(self) -> list[int]:
        """The size of each bracket the budget allows."""
        return [self.bracket_sizes()[0]] * (self.budget // self.bracket_sizes()[0])

    def needs_candidates(self):
        return not self.members

    def exhausted(self, evaluated):
        return not self.members and self.bracket >= len(self.brackets)

    def next_round(self, searcher, evaluated):
        if self.members:
            return [Job(arch, self.rung) for arch in self.members]
        if self.bracket >= len(self.brackets):
            return None
        self.rung = self.start_rung(self.bracket)
        self.members = searcher.ask_batch(self.brackets[self.bracket])
        self.bracket += 1
        return [Job(arch, self.rung) for arch in self.members]

    def completed(self, jobs, rewards):
        if self.rung == self.rungs - 1:
            self.members = []
            return
        self.members = survivors(jobs, rewards, max(1, len(jobs) // self.eta))  # empty if every one failed
        self.rung += 1

    def state_dict(self):
        return {"bracket": self.bracket, "rung": self.rung, "members": [a.to_dict() for a in self.members]}

    def load_state_dict(self, state):
        self.bracket, self.rung = state["bracket"], state["rung"]
        self.members = [Arch.from_dict(document) for document in state["members"]]


class Hyperband(SuccessiveHalving):
    """Brackets ``s = R .. 0`` (``R = rungs - 1``) of ``ceil((R + 1) / (s + 1) * eta**s)`` candidates starting at
    rung ``R - s``, cycled while the budget (in candidates) lasts."""

    name = "hyperband"

    def bracket_sizes(self) -> list[int]:
        top = self.rungs - 1
        return [math.ceil((top + 1) / (s + 1) * self.eta**s) for s in range(top, -1, -1)]

    def start_rung(self, bracket: int) -> int:
        return bracket % self.rungs

    def plan(self) -> list[int]:
        sizes, planned, left = self.bracket_sizes(), [], self.budget
        while left >= sizes[len(planned) % self.rungs]:
            planned.append(sizes[len(planned) % self.rungs])
            left -= planned[-1]
        return planned


class Asha(Schedule):
    """Rounds of ``batch`` jobs: promotions of top-``1/eta`` candidates first, new candidates otherwise."""

    name = "asha"

    def __init__(self, rungs, budget, batch, eta) -> None:
        super().__init__(rungs, budget, batch, eta)
        if budget < eta ** (rungs - 1):
            raise UsageError(f"--budget {budget} is smaller than one bracket of the asha schedule "
                             f"({eta ** (rungs - 1)} candidates with --eta {eta} and {rungs} rungs)")
        self.results: list[list[tuple[dict[str, Any], float | None]]] = [[] for _ in range(rungs)]
        self.promoted: list[set[str]] = [set() for _ in range(rungs)]
        self.started = 0

    def _promotable(self, rung: int) -> list[Arch]:
        finished = self.results[rung]
        keep = len(finished) // self.eta
        best = survivors([Job(Arch.from_dict(d), rung) for d, _ in finished], [r for _, r in finished], keep)
        return [arch for arch in best if arch.digest not in self.promoted[rung]]

    def needs_candidates(self):
        return not any(self._promotable(rung) for rung in range(self.rungs - 1))

    def exhausted(self, evaluated):
        return self.started >= self.budget and self.needs_candidates()

    def next_round(self, searcher, evaluated):
        jobs: list[Job] = []
        for rung in range(self.rungs - 2, -1, -1):
            for arch in self._promotable(rung)[: self.batch - len(jobs)]:
                self.promoted[rung].add(arch.digest)
                jobs.append(Job(arch, rung + 1))
        new = min(self.batch - len(jobs), self.budget - self.started)
        if new > 0:
            jobs += [Job(arch, 0) for arch in searcher.ask_batch(new)]
            self.started += new
        return jobs or None

    def completed(self, jobs, rewards):
        for job, reward in zip(jobs, rewards, strict=True):
            self.results[job.rung].append((job.arch.to_dict(), reward))

    def state_dict(self):
        return {"results": self.results, "promoted": [sorted(p) for p in self.promoted], "started": self.started}

    def load_state_dict(self, state):
        self.results = [[(document, reward) for document, reward in rung] for rung in state["results"]]
        self.promoted = [set(p) for p in state["promoted"]]
        self.started = state["started"]


class AsyncAsha(Asha):
    """ASHA deciding one job at a time: the most advanced promotion available, else a new candidate."""

    name = "asha-async"
    asynchronous = True

    def next_job(self, searcher: Searcher, may_start: bool = True) -> Job | None:
        """The next job for a free worker, or ``None`` when none can start now (a running job's result may
        make a promotion possible). ``may_start=False``: promotions only (the searcher has nothing to add)."""
        for rung in range(self.rungs - 2, -1, -1):
            if promotable := self._promotable(rung):
                self.promoted[rung].add(promotable[0].digest)
                return Job(promotable[0], rung + 1)
        if may_start and self.started < self.budget:
            self.started += 1
            return Job(searcher.ask_batch(1)[0], 0)
        return None


def make_schedule(name: str, rungs: int, budget: int, batch: int, eta: int) -> Schedule:
    """The schedule called ``name`` (one-line errors for a budget or ladder it cannot use)."""
    classes = {cls.name: cls for cls in (SingleFidelity, SuccessiveHalving, Hyperband, Asha, AsyncAsha)}
    if name not in classes:
        raise UsageError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    if name != "none" and rungs < 2:
        raise UsageError(f"the {name} schedule needs a ladder of at least 2 rungs (--min-iters below --max-iters)")
    if eta < 2:
        raise UsageError(f"--eta must be at least 2, got {eta}")
    return classes[name](rungs, budget, batch, eta)
