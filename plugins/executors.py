"""Built-in executors: ``serial`` (in this process)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nasdip import hookimpl
from nasdip.executor import Executor
from nasdip.search.evaluate import EvalJob, EvalOutcome, evaluate


class SerialExecutor(Executor):
    """One candidate after another, in this process (the default)."""

    name = "serial"
    help = "evaluate candidates one after another in this process (default)"

    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        for job in jobs:
            on_outcome(evaluate(job))


@hookimpl
def register_executors(register) -> None:
    register(SerialExecutor)
