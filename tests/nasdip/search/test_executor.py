"""The executor interface: option and timeout checks, batches as streams, the default and the streaming loops."""

from __future__ import annotations

import pytest

from nasdip.errors import UsageError
from nasdip.options import Option
from nasdip.search.executor import Executor, StreamingExecutor, from_batch, in_blocks
from nasdip.search.jobs import EvalJob, EvalOutcome


def job(trial: int) -> EvalJob:
    return EvalJob(trial=trial, arch={"space": "s", "choices": {}}, task="denoise", task_values={}, problems=[],
                   config={"width": 4}, settings={"iters": 2}, reward="psnr")


class Recording(Executor):
    """Runs every job as ``ok`` with reward ``10 * trial`` and records the batches it is given."""

    name = "recording"
    options = (Option("depth", int, 2, "how deep"), Option("mode", str, "fast", "how", choices=("fast", "slow")))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[list[int]] = []
        self.closed = 0

    def run(self, jobs, on_outcome):
        self.batches.append([j.trial for j in jobs])
        for j in jobs:
            on_outcome(EvalOutcome(j.trial, "ok", reward=10.0 * j.trial))

    def close(self):
        self.closed += 1


class Killing(Recording):
    name = "killing"
    supports_timeout = True


class Streaming(StreamingExecutor):
    """Keeps up to ``workers`` jobs 'running' and finishes the oldest first."""

    name = "streaming"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events: list[str] = []

    def run_stream(self, next_job, on_outcome):
        running: list[EvalJob] = []
        while True:
            while len(running) < self.workers and (new := next_job()) is not None:
                self.events.append(f"start {new.trial}")
                running.append(new)
            if not running:
                return
            done = running.pop(0)
            self.events.append(f"finish {done.trial}")
            on_outcome(EvalOutcome(done.trial, "ok", reward=float(done.trial)))


def test_a_timeout_the_executor_cannot_enforce_is_a_usage_error():
    with pytest.raises(UsageError) as caught:
        Recording(trial_timeout=5.0)
    assert str(caught.value) == ("executor 'recording' cannot stop a running trial; use --trial-timeout with an "
                                 "executor that can (process, ray)")
    with pytest.raises(UsageError, match=r"^executor 'recording' cannot stop a running trial"):
        Recording.check(0.5, {})


def test_an_executor_that_can_kill_accepts_a_timeout():
    executor = Killing(workers=3, trial_timeout=5.0, depth="4")
    assert (executor.workers, executor.trial_timeout, executor.values) == (3, 5.0, {"depth": 4, "mode": "fast"})
    assert Killing.check(1.0, {}) == {"depth": 2, "mode": "fast"}


def test_no_timeout_needs_no_support():
    executor = Recording()
    assert (executor.workers, executor.trial_timeout, executor.values) == (1, None, {"depth": 2, "mode": "fast"})


def test_check_validates_the_executors_options():
    assert Recording.check(None, {"depth": "7", "mode": "slow"}) == {"depth": 7, "mode": "slow"}
    with pytest.raises(UsageError, match=r"^executor 'recording' has no option --width \(its options: --depth, --mode\)$"):
        Recording.check(None, {"width": 3})
    with pytest.raises(UsageError, match=r"^executor 'recording' option depth: 'deep' is not a valid integer"):
        Recording(depth="deep")
    with pytest.raises(UsageError, match=r"^--mode must be one of fast, slow, got 'medium'$"):
        Recording(mode="medium")


def test_an_executor_without_options_refuses_any():
    with pytest.raises(UsageError, match=r"has no option --depth \(its options: none\)$"):
        Streaming(depth=1)


def test_from_batch_gives_the_jobs_in_order_then_none():
    jobs = [job(3), job(1), job(2)]
    source = from_batch(jobs)
    assert [source() for _ in range(5)] == [jobs[0], jobs[1], jobs[2], None, None]
    assert len(jobs) == 3  # the caller's list is not consumed
    assert from_batch([])() is None


def test_in_blocks_keeps_neighbouring_jobs_in_one_worker_and_lets_a_free_worker_take_the_fullest_block_s_last():
    jobs = [job(trial) for trial in range(7)]
    source = in_blocks(jobs, 2)  # blocks 0-3 and 4-6
    trials = [(worker, source(worker).trial) for worker in (0, 1, 1, 1, 0)]
    assert trials == [(0, 0), (1, 4), (1, 5), (1, 6), (0, 1)]
    assert source(1).trial == 3  # its block done, worker 1 takes the last job of worker 0's
    assert source(0).trial == 2
    assert source(0) is None and source(1) is None
    assert len(jobs) == 7


def test_in_blocks_with_more_workers_than_jobs_gives_each_job_once():
    source = in_blocks([job(0), job(1)], 3)
    assert [getattr(source(worker), "trial", None) for worker in (2, 2, 0, 1)] == [0, 1, None, None]


def test_the_default_run_stream_runs_one_job_at_a_time():
    executor = Recording()
    outcomes: list[EvalOutcome] = []
    executor.run_stream(from_batch([job(0), job(1), job(2)]), outcomes.append)
    assert executor.batches == [[0], [1], [2]]
    assert [(o.trial, o.status, o.reward) for o in outcomes] == [(0, "ok", 0.0), (1, "ok", 10.0), (2, "ok", 20.0)]


def test_the_default_run_stream_asks_again_after_each_outcome():
    executor = Recording()
    log: list[str] = []
    pending = [job(0)]

    def next_job():
        log.append("ask")
        return pending.pop() if pending else None

    def on_outcome(outcome):
        log.append(f"outcome {outcome.trial}")
        if outcome.trial < 2:  # a finished job makes the next one possible
            pending.append(job(outcome.trial + 1))

    executor.run_stream(next_job, on_outcome)
    assert log == ["ask", "outcome 0", "ask", "outcome 1", "ask", "outcome 2", "ask"]


def test_a_streaming_executor_plays_a_batch_as_a_stream():
    executor = Streaming(workers=2)
    outcomes: list[EvalOutcome] = []
    executor.run([job(0), job(1), job(2)], outcomes.append)
    assert [o.trial for o in outcomes] == [0, 1, 2]
    assert executor.events == ["start 0", "start 1", "finish 0", "start 2", "finish 1", "finish 2"]


def test_a_streaming_executor_must_implement_run_stream():
    class Incomplete(StreamingExecutor):
        name = "incomplete"

    with pytest.raises(TypeError, match="run_stream"):
        Incomplete()


def test_an_executor_must_implement_run():
    class Incomplete(Executor):
        name = "incomplete"

    with pytest.raises(TypeError, match="run"):
        Incomplete()


def test_the_context_manager_closes_the_executor():
    with Recording() as executor:
        assert executor.closed == 0
    assert executor.closed == 1
    with pytest.raises(RuntimeError, match="boom"), Recording() as failing:
        raise RuntimeError("boom")
    assert failing.closed == 1


def test_the_base_close_does_nothing_and_defaults_are_off():
    executor = Streaming()
    executor.close()
    assert Executor.default is False and Executor.supports_timeout is False and Executor.options == ()
