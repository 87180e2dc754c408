"""The score rung: promotion counts in front of every schedule (a scripted searcher and synthetic rewards), the
driver's records, resume in the middle of a score round, and the budget counting fitted evaluations only."""

from __future__ import annotations

import json

import pytest

from nasdip import hookimpl
from nasdip.arch.document import Arch
from nasdip.arch.space import Decision, Space
from nasdip.errors import NasdipError, UsageError
from nasdip.search.driver import resume_search, start_search
from nasdip.search.evaluate import evaluate
from nasdip.search.executor import Executor
from nasdip.search.jobs import Fidelity
from nasdip.search.reward import Reward
from nasdip.search.schedule import Asha, AsyncAsha, SingleFidelity, SuccessiveHalving
from nasdip.search.screen import Screened
from nasdip.search.settings import SearchSettings


class Scripted:
    """Proposes fresh architectures of a one-decision space in order: value 0, 1, 2, ..."""

    def __init__(self):
        self.space, self.count = Values(), 0

    def ask_batch(self, count):
        archs = [self.space.arch({"value": self.count + i}) for i in range(count)]
        self.count += count
        return archs


class Values(Space):
    name = "values"
    decisions = (Decision("value", tuple(range(400))),)

    def build(self, arch, config):
        raise RuntimeError("never built: the rewards are synthetic")


def score_then_value(arch, rung):
    """The score prefers small values (rung 0); the fitted rungs prefer large ones."""
    value = arch.choices["value"]
    return float(-value if rung == 0 else value)


def play(schedule, reward=score_then_value):
    """Run a schedule to the end, counting fitted evaluations as the driver does; the jobs of each round."""
    searcher, rounds, fitted = Scripted(), [], 0
    while not schedule.exhausted(fitted):
        jobs = schedule.next_round(searcher, fitted)
        if jobs is None:
            break
        rounds.append([(job.arch.choices["value"], job.rung) for job in jobs])
        schedule.completed(jobs, [reward(job.arch, job.rung) for job in jobs])
        fitted += sum(job.rung > 0 for job in jobs)
    return rounds


def test_halving_behind_a_score_rung_fits_the_best_scored_tenth():
    schedule = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4)
    rounds = play(schedule)
    assert [len(r) for r in rounds] == [12, 3, 1, 12, 3, 1]  # per bracket: 4 x 3 scored -> 3 -> 1
    assert {rung for r in rounds[::3] for _, rung in r} == {0}
    assert rounds[1] == [(0, 1), (1, 1), (2, 1)]  # the three best scores (smallest values) are fitted
    assert rounds[2] == [(2, 2)]  # and the fitted rung ranks them by its own reward
    assert rounds[4] == [(12, 1), (13, 1), (14, 1)]
    assert schedule.planned_evaluations() == sum(len(r) for r in rounds) == 32


def test_a_single_fidelity_search_is_prescreened_round_by_round():
    rounds = play(Screened(SingleFidelity(rungs=1, budget=5, batch=2, eta=3), eta=3))
    assert [len(r) for r in rounds] == [6, 2, 6, 2, 3, 1]  # the budget counts the 5 fitted evaluations
    assert rounds[1] == [(0, 1), (1, 1)] and rounds[5] == [(12, 1)]


def test_asha_asks_for_scored_candidates_only_when_it_starts_new_ones():
    rounds = play(Screened(Asha(rungs=2, budget=6, batch=3, eta=3), eta=2))
    fitted = [job for r in rounds for job in r if job[1] > 0]
    assert sum(rung == 1 for _, rung in fitted) == 6 and sum(rung == 0 for r in rounds for _, rung in r) == 12
    assert any(rung == 2 for _, rung in fitted)


def test_async_asha_scores_in_groups_of_eta():
    schedule, searcher, finished = Screened(AsyncAsha(rungs=2, budget=4, batch=1, eta=2), eta=3), Scripted(), []
    while (job := schedule.next_job(searcher)) is not None:
        finished.append((job.arch.choices["value"], job.rung))
        schedule.completed([job], [score_then_value(job.arch, job.rung)])
    scored = [value for value, rung in finished if rung == 0]
    assert len(scored) == 12 and [value for value, rung in finished if rung == 1] == [0, 3, 6, 9]
    assert [value for value, rung in finished if rung == 2] == [3, 6, 9]  # ASHA promotes as results come


def test_a_score_round_that_fails_entirely_stops_the_search():
    schedule = Screened(SingleFidelity(rungs=1, budget=2, batch=2, eta=3), eta=3)
    with pytest.raises(NasdipError, match="every one of the 6 candidates of a score round failed"):
        play(schedule, reward=lambda arch, rung: None)


def test_the_state_round_trips_in_the_middle_of_a_bracket():
    schedule = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4)
    searcher = Scripted()
    jobs = schedule.next_round(searcher, 0)
    schedule.completed(jobs, [score_then_value(job.arch, job.rung) for job in jobs])
    copy = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4)
    copy.load_state_dict(schedule.state_dict())
    assert [j.arch.digest for j in copy.next_round(searcher, 0)] == [j.arch.digest for j in schedule.next_round(
        searcher, 0)]


# -- in a search --------------------------------------------------------------------------------------------


class Synthetic:
    """A grid space, a fitted reward (the sum of the choices) and a training-free score (minus it)."""

    @hookimpl
    def register_spaces(self, register):
        class Grid(Space):
            name = "grid"
            decisions = tuple(Decision(f"d{i}", (0, 1, 2, 3)) for i in range(4))

            def build(self, arch, config):
                raise RuntimeError("never built")

        register(Grid())

    @hookimpl
    def register_rewards(self, register):
        register(Reward("grid-sum", lambda c: float(sum(c.arch.choices.values())), needs_fit=False))
        register(Reward("grid-score", lambda c: -float(sum(c.arch.choices.values())), needs_fit=False,
                        needs_clean=False))


LADDER = [Fidelity(0, 16, 8, score="grid-score", eta=3), Fidelity(10, 16, 8), Fidelity(20, 24, 8)]


def settings(**changes):
    values = {"searcher": "random", "task": "denoise", "space": "grid", "reward": "grid-sum", "budget": 6,
              "batch": 4, "schedule": "halving", "eta": 3, "device": "cpu", "seed": 1, "ladder": LADDER,
              "fidelity": LADDER[-1]}
    values.update(changes)
    return SearchSettings(**values)


def lines(run):
    return [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]


def test_a_search_records_the_score_rung_like_any_rung(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    driver = start_search(settings(), tmp_path / "run", None)
    summary = driver.run()
    trials = lines(tmp_path / "run")
    assert [sum(t["rung"] == r for t in trials) for r in range(3)] == [18, 6, 2]
    assert trials[0]["fidelity"] == {"iters": 0, "crop": 16, "width": 8, "score": "grid-score", "eta": 3}
    assert summary.best_rung == 2 and summary.rungs == 3
    scored = sorted((t for t in trials[:9]), key=lambda t: (-t["reward"], t["index"]))
    assert [t["digest"] for t in trials[9:12]] == [t["digest"] for t in scored[:3]]  # the best scores go on
    assert driver.schedule.planned_evaluations() == len(trials)


class InOrder(Executor):
    """Evaluates jobs in the order given, remembering each round's trial numbers and architectures, and whether
    they are scored."""

    name = "in-order"
    rounds: list[tuple[bool, list[int], list[Arch]]] = []

    def run(self, jobs, on_outcome):
        InOrder.rounds.append((all(job.reward == "grid-score" for job in jobs), [job.trial for job in jobs],
                               [Arch.from_dict(job.arch) for job in jobs]))
        for job in jobs:
            on_outcome(evaluate(job))


def test_a_score_round_runs_its_candidates_by_their_choices_and_keeps_the_proposal_s_numbers(
        tmp_path, register_plugin, monkeypatch):
    register_plugin(Synthetic(), "synthetic")

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(InOrder)

    register_plugin(Plugin(), "in-order")
    heard = []
    InOrder.rounds = []
    driver = start_search(settings(executor="in-order"), tmp_path / "run", None)
    monkeypatch.setattr(driver.searcher, "tell_round", lambda results: heard.append([a.digest for a, _, _ in results]))
    driver.run()
    trials = {t["index"]: t for t in lines(tmp_path / "run")}
    for scored, numbers, archs in InOrder.rounds:
        assert [trials[number]["digest"] for number in numbers] == [arch.digest for arch in archs]
        if scored:  # a score round: by choices, whatever the proposal's order
            codes = [driver.space.encode(arch) for arch in archs]
            assert codes == sorted(codes) and len(archs) == 9
        else:  # a fitted round: as proposed
            assert numbers == sorted(numbers)
    assert any(numbers != sorted(numbers) for scored, numbers, _ in InOrder.rounds if scored)  # reordered
    # the searcher hears each round in the proposal's order: trial numbers ascending
    first = heard[0]
    assert first == [trials[index]["digest"] for index in sorted(trials)[:len(first)]]


class Crashing(Executor):
    """Evaluates jobs, but raises after ``limit`` outcomes in this process."""

    name = "crashing-screen"
    limit = seen = 0

    def run(self, jobs, on_outcome):
        for job in jobs:
            if Crashing.seen == Crashing.limit:
                raise KeyboardInterrupt
            Crashing.seen += 1
            on_outcome(evaluate(job))


def strip(run):
    return [(t["index"], t["digest"], t["rung"], t["status"], t["reward"]) for t in sorted(
        lines(run), key=lambda t: t["index"])]


INCLUDED = [Arch(space="grid", choices={"d0": 3, "d1": 3, "d2": 3, "d3": 2}).to_dict()]


@pytest.mark.parametrize(("schedule", "limit", "include"), [
    ("halving", 5, []), ("halving", 10, []), ("asha", 7, []), ("asha-async", 4, []), ("asha-async", 20, []),
    ("halving", 7, INCLUDED), ("halving", 14, INCLUDED)])
def test_resume_in_the_middle_of_a_score_round_continues_exactly(tmp_path, register_plugin, schedule, limit,
                                                                   include):
    register_plugin(Synthetic(), "synthetic")

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(Crashing)

    register_plugin(Plugin(), "crashing-screen")
    start_search(settings(searcher="rl", schedule=schedule, include=include), tmp_path / "whole", None).run()
    Crashing.limit, Crashing.seen = limit, 0
    with pytest.raises(KeyboardInterrupt):
        start_search(settings(searcher="rl", schedule=schedule, executor="crashing-screen", include=include),
                     tmp_path / "cut", None).run()
    Crashing.limit = -1
    resume_search(tmp_path / "cut").run()
    assert strip(tmp_path / "cut") == strip(tmp_path / "whole")


# -- included architectures ----------------------------------------------------------------------------------


def test_included_architectures_are_fitted_first_in_the_places_of_scored_ones():
    known = [Values().arch({"value": 300}), Values().arch({"value": 301})]
    schedule = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4, include=known)
    rounds = play(schedule)
    assert [len(r) for r in rounds] == [4, 3, 1, 12, 3, 1]  # the first bracket scores 4 x (3 - 2), not 4 x 3
    assert rounds[1] == [(300, 1), (301, 1), (0, 1)]  # the known ones, then the best score
    assert rounds[2] == [(301, 2)]  # ranked with the others by the fitted reward
    assert schedule.planned_evaluations() == sum(len(r) for r in rounds) == 24


def test_an_included_architecture_the_score_also_picks_is_not_fitted_twice():
    known = [Values().arch({"value": 0})]  # the score's favourite, which the searcher proposes first
    rounds = play(Screened(SuccessiveHalving(rungs=2, budget=3, batch=4, eta=3), eta=2, include=known))
    assert rounds[0] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert rounds[1] == [(0, 1), (1, 1), (2, 1)]  # 0 once; the next best two fill the scored places


def test_the_pool_of_included_architectures_round_trips_before_the_first_round():
    known = [Values().arch({"value": 300})]
    schedule = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4, include=known)
    copy = Screened(SuccessiveHalving(rungs=2, budget=6, batch=4, eta=3), eta=4, include=known)
    state = schedule.state_dict()
    copy.load_state_dict(json.loads(json.dumps(state)))
    assert play(copy) == play(schedule)


def test_a_search_fits_its_included_architectures_unscored_and_records_them(tmp_path, register_plugin):
    register_plugin(Synthetic(), "synthetic")
    best = {f"d{i}": 3 for i in range(4)}  # the fitted reward's best, the score's worst
    known = Arch(space="grid", choices=best).to_dict()
    driver = start_search(settings(include=[known]), tmp_path / "run", None)
    summary = driver.run()
    trials = lines(tmp_path / "run")
    assert [sum(t["rung"] == r for t in trials) for r in range(3)] == [6 + 9, 3 + 3, 1 + 1]  # 3 x (3 - 1) scored
    assert (trials[6]["rung"], trials[6]["arch"]["choices"]) == (1, best)  # the first fitted, unscored
    assert sum(t["rung"] == 1 and t["arch"]["choices"] == best for t in trials) == 1  # though the searcher proposed it
    assert summary.best_reward == 12.0 and trials[9]["arch"]["choices"] == best  # and it wins its bracket
    assert json.loads((tmp_path / "run" / "config.json").read_text())["include"] == [known]
    assert driver.schedule.planned_evaluations() == len(trials)


def test_included_architectures_need_a_score_rung_to_skip():
    with pytest.raises(UsageError, match="included architectures skip a score rung, and this ladder has none"):
        settings(ladder=LADDER[1:], include=[{"space": "grid", "choices": {}}]).make_schedule()
