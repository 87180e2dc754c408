"""The executor interface: evaluate candidate jobs (a batch, or a stream) and report each outcome as it finishes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from nasdip.errors import UsageError
from nasdip.options import Option, resolve_values
from nasdip.search.jobs import EvalJob, EvalOutcome

#: Where a stream of jobs comes from: called whenever a worker is free; ``None`` means nothing to start now.
JobSource = Callable[[], EvalJob | None]
#: Where each worker's next job comes from: called with the free worker's index; ``None``: nothing for it now.
WorkerSource = Callable[[int], EvalJob | None]


class Executor(ABC):
    """Runs :func:`nasdip.search.evaluate.evaluate` on jobs: serially, in processes, on a cluster.

    ``run`` must call ``on_outcome`` exactly once per job (in any order) and must not raise for a failing job:
    a crash, a timeout or an error in a job becomes a ``failed`` outcome.
    """

    name: ClassVar[str] = ""
    #: Whether this is the one used when the user names none (the built-in default marks itself).
    default: ClassVar[bool] = False
    help: ClassVar[str] = ""
    #: Executor-specific settings, exposed on ``nasdip search`` as ``--<name>``.
    options: ClassVar[tuple[Option, ...]] = ()
    #: Whether the executor can stop a trial that runs past ``trial_timeout`` (a worker it can kill).
    supports_timeout: ClassVar[bool] = False
    #: Set by the search before it runs jobs: an executor that can see a running job's fitting steps reports them
    #: here as ``(trial, fraction done)`` (pass it to :func:`nasdip.search.evaluate.evaluate`); ``None``: nobody
    #: listens. Optional: the search also counts finished jobs.
    on_progress: Callable[[int, float], None] | None = None

    def __init__(self, workers: int = 1, trial_timeout: float | None = None, **values: Any) -> None:
        self.values = self.check(trial_timeout, values)
        self.workers = workers
        self.trial_timeout = trial_timeout

    @classmethod
    def check(cls, trial_timeout: float | None, values: dict[str, Any]) -> dict[str, Any]:
        """The executor's option values, validated; a timeout it cannot enforce is a usage error."""
        if trial_timeout is not None and not cls.supports_timeout:
            raise UsageError(f"executor {cls.name!r} cannot stop a running trial; use --trial-timeout with an "
                             f"executor that can (process, ray)")
        return resolve_values(f"executor {cls.name!r}", cls.options, values)

    @abstractmethod
    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        """Evaluate ``jobs``; call ``on_outcome`` as each finishes."""
    def run_stream(self, next_job: JobSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        """Evaluate jobs as ``next_job`` gives them, calling it whenever a worker is free (again after each
        outcome: a finished job may make a new one possible) and ``on_outcome`` as each finishes; return when
        ``next_job`` gives ``None`` and nothing is running (asynchronous schedules).

        Default: one job at a time through :meth:`run`. Executors with several workers override it to keep
        every worker busy.
        """
        while (job := next_job()) is not None:
            self.run([job], on_outcome)

    def close(self) -> None:
        """Release workers."""
    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamingExecutor(Executor):
    """An executor built on :meth:`run_stream` (several workers kept busy); a batch is a stream of fixed jobs."""

    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        self.run_stream(from_batch(jobs), on_outcome)

    @abstractmethod
    def run_stream(self, next_job: JobSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        """See :meth:`Executor.run_stream`."""

def from_batch(jobs: Sequence[EvalJob]) -> JobSource:
    """A job source that gives ``jobs`` in order, then ``None`` (a batch played as a stream)."""
    queue = deque(jobs)
    return lambda: queue.popleft() if queue else None


def in_blocks(jobs: Sequence[EvalJob], workers: int) -> WorkerSource:
    """A source that keeps neighbouring jobs in one worker: the batch is cut into ``workers`` contiguous blocks,
    worker ``i`` takes its block's jobs in order, and a worker whose block is done takes the last job of the block
    with the most left. A score round runs candidates that share a cell one after another
    (:func:`nasdip.search.driver.choice_order`), and a worker that scores them in a row reuses that cell's network
    (:mod:`nasdip.fit.untrained`); handed out in turn, they would alternate between workers."""
    size, extra = divmod(len(jobs), workers)
    blocks, start = [], 0
    for index in range(workers):
        end = start + size + (index < extra)
        blocks.append(deque(jobs[start:end]))
        start = end

    def next_for(worker: int) -> EvalJob | None:
        if blocks[worker]:
            return blocks[worker].popleft()
        fullest = max(blocks, key=len)
        return fullest.pop() if fullest else None

    return next_for
