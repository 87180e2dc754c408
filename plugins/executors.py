"""Built-in executors: ``serial`` (this process), ``streams`` (concurrent candidates in this process, one CUDA
stream each), ``process`` (local worker processes), ``ray`` (a Ray cluster).

``process`` keeps one long-lived worker process per slot, each running one candidate at a time with
``cpu_count // workers`` torch threads (so workers do not oversubscribe the cores; ``--process-threads``
overrides) and, when several GPUs are visible, its own GPU. A worker that dies (a crash, the out-of-memory killer)
or runs past ``--trial-timeout`` fails only its trial; the slot gets a fresh worker and the search goes on. A
worker whose search is killed outright (``kill -9``) notices within a second and exits. A round's batch is dealt in
contiguous blocks, one per worker, so neighbouring candidates (a score round's candidates of one cell) share a
worker; a stream goes to whichever worker is free.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

import torch

from nasdip.errors import NasdipError
from nasdip.options import Option
from nasdip.search.evaluate import evaluate
from nasdip.search.executor import Executor, JobSource, StreamingExecutor, WorkerSource, in_blocks
from nasdip.search.jobs import EvalJob, EvalOutcome
from nasdip.search.records import FAILED

#: Most torch threads (or Ray CPUs) one trial may ask for.
MAX_THREADS = 1024
#: Most GPUs one Ray trial may ask for.
MAX_GPUS = 64


class SerialExecutor(Executor):
    """One candidate after another, in this process (the default)."""

    name = "serial"
    default = True
    help = "evaluate candidates one after another in this process (default)"

    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        for job in jobs:
            on_outcome(evaluate(job, self.on_progress))


class StreamsExecutor(StreamingExecutor):
    """Several candidates at once in this process, each in its own thread and, on a GPU, its own CUDA stream."""

    name = "streams"
    help = "concurrent candidates in this process, one CUDA stream each (keeps one GPU busy); no timeouts"

    def run_stream(self, next_job: JobSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        with futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            running: set = set()
            while True:
                while len(running) < self.workers and (job := next_job()) is not None:
                    running.add(pool.submit(_evaluate_on_stream, job, self.on_progress))
                if not running:
                    return
                done, running = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    on_outcome(future.result())


def _evaluate_on_stream(job: EvalJob, on_progress: Callable[[int, float], None] | None) -> EvalOutcome:
    if torch.cuda.is_available() and job.settings.get("device", "auto") in ("auto", "cuda"):
        with torch.cuda.stream(torch.cuda.Stream()):
            outcome = evaluate(job, on_progress)
        torch.cuda.current_stream().synchronize()
        return outcome
    return evaluate(job, on_progress)


#: Least seconds between two progress messages a worker process sends (its fits synchronise far more often).
PROGRESS_INTERVAL = 0.5


@dataclass(frozen=True)
class Progress:
    """A worker's message while it fits: ``fraction`` of trial ``trial``'s fitting steps are done."""

    trial: int
    fraction: float


def progress_sender(connection: Any) -> Callable[[int, float], None]:
    """A progress callback sending :class:`Progress` over ``connection``, at most every
    :data:`PROGRESS_INTERVAL` seconds."""
    last = [0.0]

    def send(trial: int, fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            connection.send(Progress(trial, fraction))

    return send


#: Seconds between a worker's checks that the search that started it is still alive.
PARENT_CHECK_INTERVAL = 1.0


def _exit_with_parent(parent: int) -> None:
    """Leave the worker process once its parent is gone (``kill -9``, a crash): the trial's result would reach no
    one, and a real trial computes for minutes."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_INTERVAL)
    os._exit(1)


def _worker_main(connection: Any, threads: int, environment: dict[str, str], parent: int) -> None:
    """A worker process: evaluate jobs received on ``connection`` until told to stop or its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops its workers
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    os.environ.update(environment)

    torch.set_num_threads(threads)
    on_progress = progress_sender(connection)
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            return
        connection.send(evaluate(job, on_progress))


class _Slot:
    """One worker process and the job it is running."""

    def __init__(self, context: Any, threads: int, environment: dict[str, str]) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads, environment, os.getpid()),
                                       daemon=True)
        self.process.start()
        child.close()
        self.job: EvalJob | None = None
        self.started = 0.0

    def submit(self, job: EvalJob) -> None:
        self.job, self.started = job, time.monotonic()
        self.connection.send(job)

    def exit_code(self) -> int | None:
        """The dead worker's exit code. Its pipe closes as it dies, before the process is reaped: wait for that
        (a closed pipe read at once under load gave ``None``)."""
        self.process.join(timeout=5)
        return self.process.exitcode

    def stop(self, force: bool = False) -> None:
        if force:
            self.process.kill()
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.connection.send(None)
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


def visible_gpus() -> int:
    """Number of CUDA devices this process can see (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class ProcessExecutor(StreamingExecutor):
    """A pool of local worker processes with fault isolation and per-trial timeouts."""

    name = "process"
    supports_timeout = True
    help = "local worker processes (one torch thread share and one GPU each); crashes and timeouts fail one trial"
    options = (Option("process_threads", int, None, "Torch threads per worker (default: CPU cores // workers).",
                      min=1, max=MAX_THREADS),)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = multiprocessing.get_context("spawn")
        self.threads = self.values["process_threads"] or max(1, (os.cpu_count() or 1) // self.workers)
        self.gpus = visible_gpus()
        self.slots: list[_Slot] = []

    def _environment(self, index: int) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": str(index % self.gpus)} if self.gpus > 1 else {}

    def _slot(self, index: int) -> _Slot:
        while len(self.slots) <= index:
            self.slots.append(_Slot(self.context, self.threads, self._environment(len(self.slots))))
        return self.slots[index]

    def _replace(self, index: int) -> None:
        self.slots[index].stop(force=True)
        self.slots[index] = _Slot(self.context, self.threads, self._environment(index))

    def run(self, jobs: Sequence[EvalJob], on_outcome: Callable[[EvalOutcome], None]) -> None:
        """A batch in contiguous blocks, one per worker (:func:`nasdip.search.executor.in_blocks`)."""
        self._serve(in_blocks(jobs, self.workers), on_outcome)

    def run_stream(self, next_job: JobSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        self._serve(lambda index: next_job(), on_outcome)

    def _serve(self, next_for: WorkerSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        """Keep every worker busy with the jobs ``next_for`` gives it until none is left or running."""
        busy: set[int] = set()
        while True:
            for index in range(self.workers):
                if index not in busy and (job := next_for(index)) is not None:
                    self._slot(index).submit(job)
                    busy.add(index)
            if not busy:
                return
            watched = [self.slots[i].connection for i in busy] + [self.slots[i].process.sentinel for i in busy]
            wait(watched, timeout=0.2)
            for index in sorted(busy):
                slot = self.slots[index]
                job = slot.job
                failure = None
                message = self._receive(slot)
                if isinstance(message, EvalOutcome):
                    busy.discard(index)
                    slot.job = None
                    on_outcome(message)
                    continue
                if isinstance(message, str):
                    failure = message
                elif not slot.process.is_alive():
                    failure = f"worker process died (exit code {slot.exit_code()})"
                elif self.trial_timeout is not None and time.monotonic() - slot.started > self.trial_timeout:
                    failure = f"timed out after {self.trial_timeout:g} s"
                if failure is not None:
                    busy.discard(index)
                    self._replace(index)
                    on_outcome(EvalOutcome(job.trial, FAILED, seconds=time.monotonic() - slot.started, error=failure))

    def _receive(self, slot: _Slot) -> EvalOutcome | str | None:
        """What the slot's worker sent since the last look: its outcome, or a failure's text when its pipe broke
        (the worker died); ``None`` while it runs. Progress messages go to :attr:`on_progress` on the way."""
        while slot.connection.poll():
            try:
                message = slot.connection.recv()
            except (EOFError, OSError):
                return f"worker process died (exit code {slot.exit_code()})"
            if not isinstance(message, Progress):
                return message
            if self.on_progress is not None:
                self.on_progress(message.trial, message.fraction)
        return None

    def close(self) -> None:
        for slot in self.slots:
            slot.stop()
        self.slots = []


def _evaluate_on_ray(job: EvalJob, threads: int) -> EvalOutcome:
    torch.set_num_threads(max(1, threads))
    return evaluate(job)


class RayExecutor(StreamingExecutor):
    """Candidates as Ray tasks: on a local Ray started here, or on the cluster at ``--ray-address``/RAY_ADDRESS."""

    name = "ray"
    supports_timeout = True
    help = "Ray tasks on a cluster (--ray-address or RAY_ADDRESS) or a local Ray; needs nasdip[ray]"
    options = (
        Option("ray_address", str, None, "Ray cluster address (default: RAY_ADDRESS, else start a local Ray).",
               metavar="HOST:PORT"),
        Option("ray_cpus_per_trial", float, 1.0, "CPUs each trial requests from Ray.", min=0, min_open=True,
               max=MAX_THREADS),
        Option("ray_gpus_per_trial", float, 0.0, "GPUs each trial requests from Ray (e.g. 1 with --device cuda).",
               min=0, max=MAX_GPUS),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            import ray  # noqa: PLC0415 - an optional extra, imported only when this executor is chosen
        except ImportError:
            raise NasdipError("the ray executor needs Ray: pip install 'nasdip[ray]'") from None
        self.ray = ray
        address = self.values["ray_address"] or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=max(self.workers, 1) * self.values["ray_cpus_per_trial"], include_dashboard=False,
                         log_to_driver=False, runtime_env={"env_vars": _python_path_env()})
            self.owns_ray = True
        else:
            self.owns_ray = False
        self.remote = ray.remote(_evaluate_on_ray).options(
            num_cpus=self.values["ray_cpus_per_trial"], num_gpus=self.values["ray_gpus_per_trial"], max_retries=0)

    def run_stream(self, next_job: JobSource, on_outcome: Callable[[EvalOutcome], None]) -> None:
        ray = self.ray
        running: dict[Any, tuple[EvalJob, float]] = {}
        threads = int(self.values["ray_cpus_per_trial"])
        while True:
            while len(running) < self.workers and (job := next_job()) is not None:
                running[self.remote.remote(job, threads)] = (job, time.monotonic())
            if not running:
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            for reference in done:
                job, started = running.pop(reference)
                try:
                    on_outcome(ray.get(reference))
                except Exception as error:  # a crashed or cancelled task fails its trial only
                    on_outcome(EvalOutcome(job.trial, FAILED, seconds=time.monotonic() - started,
                                           error=f"ray task failed: {type(error).__name__}: {error}".splitlines()[0]))
            if self.trial_timeout is not None:
                for reference, (job, started) in list(running.items()):
                    if time.monotonic() - started > self.trial_timeout:
                        ray.cancel(reference, force=True)
                        running.pop(reference)
                        on_outcome(EvalOutcome(job.trial, FAILED, seconds=time.monotonic() - started,
                                               error=f"timed out after {self.trial_timeout:g} s"))

    def close(self) -> None:
        if self.owns_ray and self.ray.is_initialized():
            self.ray.shutdown()


def _python_path_env() -> dict[str, str]:
    """Make this process's import path (editable installs, test plugins) visible to local Ray workers."""
    return {"PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
