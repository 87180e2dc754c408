"""Fidelity schedules: ladders, promotion order and counts on a synthetic reward with a known optimum, resume in
the middle of a rung, determinism, and one-line errors for unusable settings."""

from __future__ import annotations

import json

import pytest
import torch

from nasdip import hookimpl
from nasdip.arch.space import Decision, Space
from nasdip.errors import UsageError
from nasdip.search.driver import resume_search, start_search
from nasdip.search.evaluate import evaluate
from nasdip.search.executor import Executor
from nasdip.search.jobs import Fidelity
from nasdip.search.reward import Reward
from nasdip.search.schedule import (
    Asha,
    AsyncAsha,
    Hyperband,
    Job,
    SuccessiveHalving,
    build_ladder,
    geometric_iters,
    make_schedule,
)
from nasdip.search.settings import SearchSettings

# -- the schedules alone, with a scripted searcher ----------------------------------------------------------


class Scripted:
    """Proposes fresh architectures of a one-decision space in order: value 0, 1, 2, ..."""

    def __init__(self, space):
        self.space, self.count = space, 0

    def ask_batch(self, count):
        archs = [self.space.arch({"value": self.count + i}) for i in range(count)]
        self.count += count
        return archs


class Values(Space):
    """One integer decision; the synthetic reward of value v is v (the optimum is the largest value)."""

    name = "values"
    decisions = (Decision("value", tuple(range(200))),)

    def build(self, arch, config):
        raise RuntimeError("never built: the rewards are synthetic")


def play(schedule, reward=lambda arch, rung: float(arch.choices["value"])):
    """Run a schedule to the end; the jobs of each round."""
    searcher = Scripted(Values())
    rounds = []
    while not schedule.exhausted(0):
        jobs = schedule.next_round(searcher, 0)
        rounds.append([(job.arch.choices["value"], job.rung) for job in jobs])
        schedule.completed(jobs, [reward(job.arch, job.rung) for job in jobs])
    return rounds


def test_successive_halving_promotes_the_best_third_rung_by_rung():
    rounds = play(SuccessiveHalving(rungs=3, budget=18, batch=4, eta=3))
    assert [len(r) for r in rounds] == [9, 3, 1, 9, 3, 1]  # two brackets of 9 -> 3 -> 1
    assert rounds[1] == [(8, 1), (7, 1), (6, 1)] and rounds[2] == [(8, 2)]
    assert rounds[5] == [(17, 2)]  # the optimum of the second bracket reaches the deployment fidelity


def test_halving_ranks_by_the_reward_of_the_rung():
    # The cheap rung prefers small values; the middle rung the large ones: promotions follow each rung's ranking.
    rounds = play(SuccessiveHalving(rungs=3, budget=9, batch=4, eta=3),
                  reward=lambda arch, rung: -arch.choices["value"] if rung == 0 else arch.choices["value"])
    assert rounds[1] == [(0, 1), (1, 1), (2, 1)] and rounds[2] == [(2, 2)]


def test_failed_candidates_never_go_up():
    rounds = play(SuccessiveHalving(rungs=2, budget=3, batch=4, eta=3),
                  reward=lambda arch, rung: None if arch.choices["value"] == 2 else float(arch.choices["value"]))
    assert rounds == [[(0, 0), (1, 0), (2, 0)], [(1, 1)]]


def test_hyperband_cycles_brackets_from_every_rung():
    schedule = Hyperband(rungs=3, budget=17, batch=4, eta=3)
    assert schedule.bracket_sizes() == [9, 5, 3] and schedule.brackets == [9, 5, 3]
    rounds = play(schedule)
    assert [(len(r), r[0][1]) for r in rounds] == [(9, 0), (3, 1), (1, 2), (5, 1), (1, 2), (3, 2)]
    assert rounds[1] == [(8, 1), (7, 1), (6, 1)] and rounds[2] == [(8, 2)]
    assert rounds[4] == [(13, 2)] and rounds[5] == [(14, 2), (15, 2), (16, 2)]


def test_asha_promotes_as_soon_as_a_rung_has_eta_results():
    rounds = play(Asha(rungs=3, budget=9, batch=3, eta=3))
    # Round 1 starts three candidates; round 2 promotes the best of them and starts two more; ...
    assert rounds[0] == [(0, 0), (1, 0), (2, 0)]
    assert rounds[1] == [(2, 1), (3, 0), (4, 0)]
    assert sum(rung == 0 for r in rounds for _, rung in r) == 9
    top = [value for r in rounds for value, rung in r if rung == 2]
    assert top and max(top) == max(value for r in rounds for value, rung in r if rung == 1)


def play_async(schedule, workers, reward=lambda arch, rung: float(arch.choices["value"])):
    """Run an asynchronous schedule with ``workers`` jobs in flight, the oldest finishing first; the jobs in the
    order they finished."""
    searcher, running, finished = Scripted(Values()), [], []
    while True:
        while len(running) < workers and (job := schedule.next_job(searcher)) is not None:
            running.append(job)
        if not running:
            return finished
        job = running.pop(0)
        finished.append((job.arch.choices["value"], job.rung))
        schedule.completed([job], [reward(job.arch, job.rung)])


def test_async_asha_gives_a_free_worker_the_most_advanced_promotion():
    # One worker, reward = value: each new candidate is the best of its rung so far, so it goes up as soon as
    # its rung holds eta results per promotion.
    order = play_async(AsyncAsha(rungs=3, budget=9, batch=1, eta=3), workers=1)
    assert order[:9] == [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (4, 0), (4, 1), (4, 2)]
    assert sum(rung == 0 for _, rung in order) == 9
    # Two workers: both are busy from the start; a promotion waits for the results that justify it.
    order = play_async(AsyncAsha(rungs=3, budget=9, batch=1, eta=3), workers=2)
    assert order[:6] == [(0, 0), (1, 0), (2, 0), (3, 0), (2, 1), (3, 1)]
    # reward = -value: the first candidate stays the best of every rung; only it reaches the top.
    order = play_async(AsyncAsha(rungs=3, budget=9, batch=1, eta=3), workers=2,
                       reward=lambda arch, rung: -float(arch.choices["value"]))
    assert [value for value, rung in order if rung == 2] == [0]
    assert [value for value, rung in order if rung == 1] == [0, 1, 2]


def test_async_asha_without_new_candidates_still_promotes():
    schedule = AsyncAsha(rungs=2, budget=6, batch=1, eta=3)
    searcher = Scripted(Values())
    for _ in range(3):
        job = schedule.next_job(searcher)
        schedule.completed([job], [float(job.arch.choices["value"])])
    assert schedule.next_job(searcher, may_start=False) == Job(Values().arch({"value": 2}), 1)
    assert schedule.next_job(searcher, may_start=False) is None and searcher.count == 3


def test_ladders():
    assert geometric_iters(100, 2000, 3) == [100, 300, 900, 2000]
    ladder = build_ladder([100, 300, 900], [64, 96, 128], [16])
    assert ladder == [Fidelity(100, 64, 16), Fidelity(300, 96, 16), Fidelity(900, 128, 16)]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: geometric_iters(100, 2000, 1), "--eta must be at least 2, got 1"),
    (lambda: geometric_iters(500, 200, 3), r"--max-iters \(200\) must be above --min-iters \(500\)"),
    (lambda: build_ladder([100, 300], [96, 64], [16]), "the fidelity ladder must increase from rung to rung"),
    (lambda: build_ladder([100, 300, 900], [64, 96], [16]), "--ladder-crops gives 2 values for 3 rungs"),
    (lambda: make_schedule("halving", 4, 10, 4, 3), r"--budget 10 is smaller than one bracket of the halving "
                                                    r"schedule \(27 candidates with --eta 3 and 4 rungs\)"),
    (lambda: make_schedule("hyperband", 3, 5, 4, 3), "--budget 5 is smaller than one bracket of the hyperband"),
    (lambda: make_schedule("asha", 3, 5, 4, 3), "--budget 5 is smaller than one bracket of the asha"),
    (lambda: make_schedule("asha-async", 3, 5, 4, 3), "--budget 5 is smaller than one bracket of the asha"),
    (lambda: make_schedule("halving", 1, 10, 4, 3), "needs a ladder of at least 2 rungs"),
])
def test_unusable_settings_are_one_line_errors(call, message):
    with pytest.raises(UsageError, match=message):
        call()


# -- the driver under a schedule: synthetic rewards, no fitting ------------------------------------------------


class Synthetic:
    """A cheap space and a reward with a known optimum: sum of the decisions, minus a rung-dependent bias that
    misleads the cheap rung about the decision ``d0`` (crop 16 favours d0 = 0, the larger crops d0 = 3)."""

    @hookimpl
    def register_spaces(self, register):
        class Grid(Space):
            name = "grid"
            decisions = tuple(Decision(f"d{i}", (0, 1, 2, 3)) for i in range(3))

            def build(self, arch, config):
                raise RuntimeError("never built")

        register(Grid())

    @hookimpl
    def register_rewards(self, register):
        def reward(context):
            choices = context.arch.choices
            crop = context.problems[0].output_size[0]
            misleading = -2.0 * choices["d0"] if crop == 16 else 0.0
            return float(sum(choices.values())) + misleading

        register(Reward("grid-sum", reward, needs_fit=False))


def settings(**changes):
    values = {"searcher": "random", "task": "denoise", "space": "grid", "reward": "grid-sum", "budget": 18,
              "batch": 4, "schedule": "halving", "eta": 3, "device": "cpu", "seed": 1,
              "ladder": [Fidelity(10, 16, 8), Fidelity(20, 24, 8), Fidelity(40, 32, 8)],
              "fidelity": Fidelity(40, 32, 8)}
    values.update(changes)
    return SearchSettings(**values)


def lines(run):
    return [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]


def test_the_driver_records_rungs_and_judges_at_the_top(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    summary = start_search(settings(), tmp_path / "run", None).run()
    trials = lines(tmp_path / "run")
    assert [sum(t["rung"] == r for t in trials) for r in range(3)] == [18, 6, 2]
    assert all(t["fidelity"] == settings().ladder[t["rung"]].to_dict() for t in trials)
    top = [t for t in trials if t["rung"] == 2]
    assert summary.best_rung == 2 and summary.rungs == 3
    assert summary.best_reward == max(t["reward"] for t in top)
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["meta"]["rung"] == 2 and best["meta"]["fidelity"] == {"iters": 40, "crop": 32, "width": 8}
    # best_reward in the log is the best at the top rung so far: none before the first top-rung result.
    first_top = min(t["index"] for t in top)
    assert all(t["best_reward"] is None for t in trials if t["index"] < first_top)


def test_the_same_seed_gives_the_same_search(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    for name in ("a", "b"):
        start_search(settings(searcher="rl"), tmp_path / name, None).run()
    strip = [[(t["index"], t["digest"], t["rung"], t["reward"]) for t in lines(tmp_path / name)] for name in "ab"]
    assert strip[0] == strip[1]


class Crashing(Executor):
    """Evaluates jobs, but raises after ``limit`` outcomes in this process (a crash in the middle of a rung)."""

    name = "crashing"
    limit = 0
    seen = 0

    def run(self, jobs, on_outcome):
        for job in jobs:
            if Crashing.seen == Crashing.limit:
                raise KeyboardInterrupt
            Crashing.seen += 1
            on_outcome(evaluate(job))


def register_executor(register_plugin, executor):
    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(executor)

    register_plugin(Plugin(), executor.name)


# Inside rung 0, inside the first bracket's rung 1, in bracket two; asynchronously: among the first candidates,
# after the first promotions.
@pytest.mark.parametrize(("schedule", "limit"), [("halving", 3), ("halving", 11), ("halving", 19),
                                                 ("asha-async", 3), ("asha-async", 11)])
def test_resume_in_the_middle_of_a_rung_continues_exactly(tmp_path, register_plugin, schedule, limit):
    register_plugin(Synthetic(), "synthetic")
    register_executor(register_plugin, Crashing)
    start_search(settings(searcher="rl", schedule=schedule), tmp_path / "whole", None).run()
    Crashing.limit, Crashing.seen = limit, 0
    with pytest.raises(KeyboardInterrupt):
        start_search(settings(searcher="rl", schedule=schedule, executor="crashing"), tmp_path / "cut", None).run()
    assert len(lines(tmp_path / "cut")) == limit
    Crashing.limit = -1  # never again
    resume_search(tmp_path / "cut").run()
    assert strip(tmp_path / "cut") == strip(tmp_path / "whole")
    assert json.loads((tmp_path / "cut" / "best.json").read_text())["choices"] == \
        json.loads((tmp_path / "whole" / "best.json").read_text())["choices"]


def strip(run):
    return [(t["index"], t["digest"], t["rung"], t["status"], t["reward"]) for t in sorted(
        lines(run), key=lambda t: t["index"])]


def test_async_asha_search_on_one_worker_is_deterministic_and_judged_at_the_top(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    summaries = [start_search(settings(searcher="rl", schedule="asha-async"), tmp_path / name, None).run()
                 for name in "ab"]
    assert strip(tmp_path / "a") == strip(tmp_path / "b")
    trials = lines(tmp_path / "a")
    assert sum(t["rung"] == 0 and t["status"] != "duplicate" for t in trials) <= 18
    assert sum(t["rung"] == 0 for t in trials) == 18 and any(t["rung"] == 2 for t in trials)
    assert summaries[0].best_rung == 2 and summaries[0].reason == "budget reached"
    assert summaries[0].best_reward == max(t["reward"] for t in trials if t["rung"] == 2)
    assert torch.load(tmp_path / "a" / "state.pt", weights_only=False)["running"] == []


class Pairs(Executor):
    """Keeps two jobs in flight and finishes the older one first (two workers, deterministically)."""

    name = "pairs"

    def run(self, jobs, on_outcome):
        raise AssertionError("an asynchronous schedule streams its jobs")

    def run_stream(self, next_job, on_outcome):
        running = []
        while True:
            while len(running) < 2 and (job := next_job()) is not None:
                running.append(job)
            if not running:
                return
            on_outcome(evaluate(running.pop(0)))


def test_rl_learns_from_each_result_while_others_run(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    register_executor(register_plugin, Pairs)
    start_search(settings(searcher="rl", schedule="asha-async", executor="pairs"), tmp_path / "run", None).run()
    trials = lines(tmp_path / "run")
    assert sum(t["rung"] == 0 for t in trials) == 18
    # One controller update per result although another candidate is always running (the controller's
    # outstanding count never falls to zero before the end).
    updates = torch.load(tmp_path / "run" / "state.pt", weights_only=False)["searcher"]["updates"]
    assert updates == len(trials)


def test_async_asha_resumes_when_killed_between_a_result_and_its_state(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    start_search(settings(searcher="rl", schedule="asha-async"), tmp_path / "whole", None).run()

    def killed(trial):
        if trial.index == 7:
            raise KeyboardInterrupt  # trial 7 is in trials.jsonl; the state still says it is running

    with pytest.raises(KeyboardInterrupt):
        start_search(settings(searcher="rl", schedule="asha-async"), tmp_path / "cut", None, on_trial=killed).run()
    assert [i for i, *_ in torch.load(tmp_path / "cut" / "state.pt", weights_only=False)["running"]] == [7]
    resume_search(tmp_path / "cut").run()
    assert strip(tmp_path / "cut") == strip(tmp_path / "whole")


def test_darts_derived_architecture_goes_to_the_top(tmp_path, register_plugin):
    class Plugin:
        @hookimpl
        def register_rewards(self, register):
            register(Reward("kernel", lambda c: float(c.arch.choices["kernel"]), needs_fit=False))

    register_plugin(Plugin(), "kernel")
    run = start_search(settings(searcher="darts", space="upsample-cell", reward="kernel", budget=9,
                                searcher_options={"steps": 2}), tmp_path / "run", None).run()
    trials = lines(tmp_path / "run")
    assert [t["rung"] for t in trials] == [0, 1, 2] and len({t["digest"] for t in trials}) == 1
    assert run.best_rung == 2


def test_job_is_plain_data():
    job = Job(Values().arch({"value": 3}), 1)
    assert job.rung == 1 and job.arch.choices == {"value": 3}


def test_compare_judges_a_multi_fidelity_search_at_the_top_rung(tmp_path, register_plugin, runner):
    from nasdip.cli import cli
    from nasdip.report.compare import summarize_run

    register_plugin(Synthetic(), "synthetic")
    summary = start_search(settings(), tmp_path / "run", None).run()
    row = summarize_run(tmp_path / "run")
    assert row["rungs"] == 3 and row["per_rung"] == [18, 6, 2]
    assert row["best_reward"] == summary.best_reward
    top_rewards = [t["reward"] for t in lines(tmp_path / "run") if t["rung"] == 2]
    assert row["best_reward"] == max(top_rewards)
    curve = row["curve"]
    assert curve[0]["best_reward"] is None and curve[-1]["best_reward"] == max(top_rewards)
    text = runner.invoke(cli, ["compare", str(tmp_path / "run")]).output
    assert "evaluations per rung (cheapest first): 18 6 2; best at the top rung" in text
