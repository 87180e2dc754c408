"""The score rung in front of any schedule: prescreen many candidates for free, fit only the promising ones.

:class:`Screened` wraps the schedule of the fitted rungs (any of :mod:`nasdip.search.schedule`, which sees them as
its rungs ``0..``; they are rungs ``1..`` of the search). Whenever that schedule asks the searcher for ``n`` new
candidates and fewer are waiting, a round of ``eta * n`` new candidates is scored at rung 0 (the score rung) and
the best ``n`` (distinct, failed ones never) join the waiting ones. ``asha-async`` scores one candidate a job, in
groups of ``eta`` whose best goes on. The budget keeps its meaning (fitted evaluations or candidates): the score rung
adds ``eta`` scored candidates per fitted one.

Known architectures (``include``: presets a user trusts, say) skip the score: they wait from the start, so the
first candidates the wrapped schedule starts are those, then the best-scored ones.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from nasdip.arch.document import Arch
from nasdip.errors import NasdipError
from nasdip.search.schedule import Job, Schedule, survivors
from nasdip.search.searcher import Searcher


class Unscreened(Exception):
    """The wrapped schedule asked for more new candidates than are waiting."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


class Waiting:
    """What the wrapped schedule sees as its searcher: the screened candidates, first come first served."""

    def __init__(self, pool: list[Arch]) -> None:
        self.pool = pool

    def ask_batch(self, count: int) -> list[Arch]:
        if count > len(self.pool):
            raise Unscreened(count - len(self.pool))
        taken, self.pool[:] = self.pool[:count], self.pool[count:]
        return taken


class Screened(Schedule):
    """A score rung (rung 0, passing on the best ``1/eta``) before the rungs of ``inner``."""

    def __init__(self, inner: Schedule, eta: int, include: Sequence[Arch] = ()) -> None:
        super().__init__(inner.rungs + 1, inner.budget, inner.batch, inner.eta)
        self.inner, self.score_eta = inner, eta
        self.name, self.asynchronous = inner.name, inner.asynchronous
        distinct = {arch.digest: arch for arch in include}
        self.pool: list[Arch] = list(distinct.values())  # waiting for the fitted rungs: included, then scored
        self.included = set(distinct)  # never promoted from the score rung a second time
        self.group: list[tuple[dict[str, Any], float | None]] = []  # asha-async: the scores of the group so far
        self.dispatched = 0  # asha-async: score jobs of the group handed out

    def _inner_call(self, call):
        """``call(waiting)`` on the wrapped schedule, or, when it wants more candidates than are waiting, its
        state left as it was and the number missing."""
        state = copy.deepcopy(self.inner.state_dict())
        try:
            return call(Waiting(self.pool)), 0
        except Unscreened as missing:
            self.inner.load_state_dict(state)
            return None, missing.count

    def next_round(self, searcher: Searcher, evaluated: int) -> list[Job] | None:
        if self.inner.exhausted(evaluated):
            return None
        jobs, missing = self._inner_call(lambda waiting: self.inner.next_round(waiting, evaluated))
        if missing:
            return [Job(arch, 0) for arch in searcher.ask_batch(self.score_eta * missing)]
        return None if jobs is None else [Job(job.arch, job.rung + 1) for job in jobs]

    def next_job(self, searcher: Searcher, may_start: bool = True) -> Job | None:
        """``asha-async``: the wrapped schedule's next job, else a score job of the current group (``None``
        while the group's scores are still running)."""
        job, missing = self._inner_call(lambda waiting: self.inner.next_job(waiting, may_start))
        if not missing:
            return None if job is None else Job(job.arch, job.rung + 1)
        if self.dispatched >= self.score_eta:
            return None
        self.dispatched += 1
        return Job(searcher.ask_batch(1)[0], 0)

    def completed(self, jobs: Sequence[Job], rewards: Sequence[float | None]) -> None:
        scored = [(job, reward) for job, reward in zip(jobs, rewards, strict=True) if job.rung == 0]
        if len(scored) < len(jobs):
            self.inner.completed([Job(job.arch, job.rung - 1) for job in jobs if job.rung > 0],
                                 [reward for job, reward in zip(jobs, rewards, strict=True) if job.rung > 0])
        if not scored:
            return
        if not self.asynchronous:
            self._promote([job for job, _ in scored], [reward for _, reward in scored], len(scored))
            return
        self.group += [(job.arch.to_dict(), reward) for job, reward in scored]
        if len(self.group) >= self.score_eta:
            group, self.group, self.dispatched = self.group, [], 0
            self._promote([Job(Arch.from_dict(d), 0) for d, _ in group], [r for _, r in group], len(group))

    def _promote(self, jobs: list[Job], rewards: list[float | None], scored: int) -> None:
        """The best ``scored // eta`` distinct candidates of a scored round join the waiting ones."""
        if all(reward is None for reward in rewards):
            raise NasdipError(f"every one of the {scored} candidates of a score round failed at the score rung "
                              f"(their errors are in trials.jsonl)")
        best = {arch.digest: arch for arch in survivors(jobs, rewards, len(jobs)) if arch.digest not in self.included}
        self.pool += list(best.values())[: max(1, scored // self.score_eta)]

    def needs_candidates(self) -> bool:
        return self.inner.needs_candidates() and not self.pool

    def exhausted(self, evaluated: int) -> bool:
        return self.inner.exhausted(evaluated)

    def planned_evaluations(self) -> int | None:
        planned = self.inner.planned_evaluations()
        if planned is None:
            return None
        return planned + self.score_eta * max(0, self.inner.planned_candidates() - len(self.included))

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "pool": [arch.to_dict() for arch in self.pool],
                "group": list(self.group), "dispatched": self.dispatched}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.pool = [Arch.from_dict(document) for document in state["pool"]]
        self.group = [(document, reward) for document, reward in state["group"]]
        self.dispatched = state["dispatched"]
