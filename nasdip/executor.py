"""The executor interface: evaluate a batch of candidate jobs and report each outcome as it finishes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from nasdip.options import Option, resolve_values
from nasdip.search.evaluate import EvalJob, EvalOutcome


class Executor(ABC):
    """Runs :func:`nasdip.search.evaluate.evaluate` on jobs: serially, in processes, on a cluster.

    ``run`` must call ``on_outcome`` exactly once per job (in any order) and must not raise for a failing job:
    a crash, a timeout or an error in a job becomes a ``failed`` outcome.
    """

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    #: Executor-specific settings, exposed on ``nasdip search`` as ``--<name>``.
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, workers: int = 1, trial_timeout: float | None = None, **values: Any) -> None:
        self.workers = workers
        self.trial_timeout = trial_timeout
        self.values = resolve_values(f"executor {self.name!r}", self.options, values)

    @abstractmethod
    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        """Evaluate ``jobs``; call ``on_outcome`` as each finishes."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
