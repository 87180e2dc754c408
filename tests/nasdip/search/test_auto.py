"""Choosing an architecture for one observation: the plan a budget pays for, the known best of three hand-made
candidates under a synthetic reward (the score screening, the reward deciding), no clean image seen, and the
one-line refusals."""

from __future__ import annotations

import random
import re

import pytest
import torch

import nasdip
from nasdip import registry
from nasdip.errors import UsageError
from nasdip.fit.request import FitRequest
from nasdip.nn.config import NetConfig
from nasdip.search import auto
from nasdip.search.auto import AutoPlan, choose, fit_ratio, no_reference_reward, plan_auto, winner_meta
from nasdip.search.reward import Reward


def test_the_default_budget_pays_for_two_rungs_of_halving_before_a_denoising_fit():
    plan = plan_auto(200, 3.0, 3000)
    assert plan.steps == (333, 1000) and plan.fitted == [9, 3] and plan.score_eta == 22 and plan.scored == 198
    assert plan.cost == pytest.approx(1 + (9 * 333 + 3 * 1000) / 3000) and plan.cost <= 3
    ladder = plan.ladder("psd", 32)
    assert [(rung.iters, rung.crop, rung.width, rung.score) for rung in ladder] == [
        (0, None, 32, "psd"), (333, None, 32, None), (1000, None, 32, None), (3000, None, 32, None)]


def test_a_choice_plays_its_scores_and_selection_fits_not_the_restoration():
    assert plan_auto(200, 3.0, 3000).evaluations == 198 + 9 + 3
    assert plan_auto(200, 1.0, 3000).evaluations == 200  # the score alone


def test_cheaper_selection_fits_buy_more_rungs_capped_at_the_restorations_steps():
    plan = plan_auto(200, 3.0, 2000, ratio=1 / 16)  # x4 cross-scale fits: a sixteenth of the pixels
    assert plan.steps == (222, 666, 1999) and plan.fitted == [27, 9, 3] and plan.score_eta == 7
    assert plan.cost == pytest.approx(1 + (27 * 222 + 9 * 666 + 3 * 1999) / 2000 / 16)


@pytest.mark.parametrize(("candidates", "budget", "steps"), [(200, 1.0, ()), (200, 1.1, ()), (200, 1.2, (200,)),
                                                             (5, 3.0, ()), (6, 3.0, (2000,)), (200, 2.0, (1000,)),
                                                             (18, 3.0, (333, 1000)), (200, 5.0, (666, 2000))])
def test_what_candidates_and_budget_allow(candidates, budget, steps):
    plan = plan_auto(candidates, budget, 3000)
    assert plan.steps == steps and plan.cost <= budget + 1e-9
    if not steps:  # the score alone chooses: every candidate scored, the best restored
        assert plan.scored == candidates and plan.cost == 1


@pytest.mark.parametrize(("candidates", "budget", "message"), [
    (0, 3.0, "--auto-candidates must be at least 2 (the score chooses among them), got 0"),
    (1, 3.0, "--auto-candidates must be at least 2"),
    (200, 0.5, "--auto-budget 0.5 is below one fit: the restoration alone costs 1; give at least 1")])
def test_bad_plans_are_one_line_usage_errors(candidates, budget, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        plan_auto(candidates, budget, 3000)


class Oracle(registry.get("tasks", "denoise")):
    """Denoising whose no-reference reward is synthetic (no fit: the test knows the best candidate)."""

    name = "auto-test"
    no_reference_reward = "test-oracle"


SPACE = registry.get("spaces", "nasdip")
HAND_MADE = [SPACE.sample(random.Random(seed)) for seed in range(3)]
#: The score ranks the candidates 0 > 1 > 2; the reward 2 > 0 > 1: the reward decides, the score only screens.
SCORES = {HAND_MADE[0].digest: 3.0, HAND_MADE[1].digest: 2.0, HAND_MADE[2].digest: 1.0}
REWARDS = {HAND_MADE[0].digest: 20.0, HAND_MADE[1].digest: 10.0, HAND_MADE[2].digest: 30.0}
SEEN: list = []


def synthetic(table):
    def reward(context):
        SEEN.extend(problem.clean for problem in context.problems)
        return table[context.arch.digest]

    return reward


class ThreeCandidates(nasdip.Searcher):
    """Proposes the hand-made candidates in turn (repeating them: duplicates)."""

    name = "three-hand-made"

    def ask(self):
        self.count = getattr(self, "count", -1) + 1
        return HAND_MADE[self.count % 3]

    def tell(self, arch, reward):
        pass


class Plugin:
    @nasdip.hookimpl
    def register_tasks(self, register):
        register(Oracle)

    @nasdip.hookimpl
    def register_searchers(self, register):
        register(ThreeCandidates)

    @nasdip.hookimpl
    def register_rewards(self, register):
        register(Reward("test-oracle", synthetic(REWARDS), needs_fit=False, needs_clean=False, unit="dB"))
        register(Reward("test-score", synthetic(SCORES), needs_fit=False, needs_clean=False))


@pytest.fixture
def oracle_request(register_plugin):
    register_plugin(Plugin(), "auto-test")
    SEEN.clear()
    task = registry.get("tasks", "auto-test")()
    clean = torch.rand(1, 3, 16, 16)
    problem = task.degrade(clean, torch.Generator().manual_seed(0))
    settings = task.settings().replace(iters=30, device="cpu")
    return FitRequest(task, problem, None, NetConfig(width=4), settings)


def test_auto_chooses_the_known_best_of_three_hand_made_candidates(oracle_request, tmp_path):
    assert no_reference_reward(oracle_request) == "test-oracle" and fit_ratio(oracle_request, "test-oracle") == 1
    plan = AutoPlan(steps=(10,), score_eta=2, ratio=1.0, iters=30)  # 6 scored (the three, twice), 3 fitted
    choice = choose(oracle_request, plan, tmp_path / "run", "test-oracle", "test-score", searcher="three-hand-made")
    assert choice.arch.digest == HAND_MADE[2].digest  # the reward's best, the score's worst
    assert SEEN and all(clean is None for clean in SEEN)  # the clean image is never seen
    rungs = [(trial.rung, trial.status) for trial in choice.trials]
    assert rungs == [(0, "ok")] * 3 + [(0, "duplicate")] * 3 + [(1, "ok")] * 3  # and nothing at the top rung
    meta = winner_meta(choice, cost=1.5, budget=3.0)
    assert meta["scored"] == 3 and meta["fitted"] == [3] and meta["reward"] == "test-oracle"
    assert [entry["reward"] for entry in meta["winner"]] == [1.0, 30.0] and meta["cost"] == 1.5


def test_without_selection_rungs_the_score_alone_chooses(oracle_request, tmp_path):
    plan = AutoPlan(steps=(), score_eta=6, ratio=1.0, iters=30)
    choice = choose(oracle_request, plan, tmp_path / "run", "test-oracle", "test-score", searcher="three-hand-made")
    assert choice.arch.digest == HAND_MADE[0].digest and choice.step_pixels == 0
    assert {trial.rung for trial in choice.trials} == {0}


def test_a_task_without_a_no_reference_reward_is_refused(oracle_request, monkeypatch):
    monkeypatch.setattr(Oracle, "no_reference_reward", None)
    with pytest.raises(UsageError, match=r"task .auto-test. declares no no-reference reward .* choose one with --arch"):
        no_reference_reward(oracle_request)
    monkeypatch.setattr(Oracle, "no_reference_reward", "lpips")
    with pytest.raises(UsageError, match="declares the no-reference reward 'lpips', which no plugin registers"):
        no_reference_reward(oracle_request)


def test_a_score_that_needs_a_fit_is_refused_before_anything_is_written(oracle_request, tmp_path):
    plan = AutoPlan(steps=(), score_eta=6, ratio=1.0, iters=30)
    with pytest.raises(UsageError, match="reward 'holdout' needs a fit, so it cannot score the score rung"):
        choose(oracle_request, plan, tmp_path / "run", "test-oracle", "holdout")
    assert not (tmp_path / "run").exists()


def test_super_resolution_selection_fits_cost_a_scale_squared_less(tmp_path):
    task = registry.get("tasks", "sr")(scale=4)
    request = FitRequest(task, task.observe(torch.rand(1, 3, 22, 23)), None, NetConfig(width=4), task.settings())
    assert no_reference_reward(request) == "cross-scale"
    assert fit_ratio(request, "cross-scale") == pytest.approx(20 * 20 / (88 * 92))
    assert auto.DEFAULT_SCORE in registry.names("rewards")


# -- included architectures ----------------------------------------------------------------------------------


def test_included_architectures_take_up_to_half_the_first_rungs_places_at_the_same_cost():
    plan = plan_auto(200, 3.0, 3000)  # fits 9 at the first selection rung
    presets = [SPACE.sample(random.Random(seed)) for seed in range(10, 16)]
    with_two, kept = auto.include_in(plan, [*presets[:2], presets[0]], given=True)  # a repeat counts once
    assert kept == tuple(presets[:2]) and with_two.included == 2
    assert with_two.fitted == plan.fitted and with_two.cost == plan.cost and with_two.scored == 22 * 7
    assert with_two.evaluations == plan.evaluations - 2 * 22
    defaults, kept = auto.include_in(plan, presets, given=False)  # a task's defaults beyond the room: the first four
    assert kept == tuple(presets[:4]) and defaults.included == 4
    with pytest.raises(UsageError, match=re.escape("--auto-include names 5 architectures, but its first selection "
                                                   "rung fits 9 candidates, at most 4 of them included")):
        auto.include_in(plan, presets[:5], given=True)


def test_a_choice_by_the_score_alone_includes_nothing():
    plan = plan_auto(200, 1.0, 3000)
    assert auto.include_in(plan, HAND_MADE[:1], given=False) == (plan, ())
    with pytest.raises(UsageError, match="the budget pays for no selection rung"):
        auto.include_in(plan, HAND_MADE[:1], given=True)


def test_an_included_candidate_wins_where_the_reward_ranks_it_best_without_being_scored(oracle_request, tmp_path):
    plan, kept = auto.include_in(AutoPlan(steps=(10,), score_eta=2, ratio=1.0, iters=30), HAND_MADE[2:], given=True)
    choice = choose(oracle_request, plan, tmp_path / "run", "test-oracle", "test-score", searcher="three-hand-made",
                    include=kept)
    assert choice.arch.digest == HAND_MADE[2].digest and choice.included == kept
    assert sum(trial.rung == 0 for trial in choice.trials) == 2 * (3 - 1)  # two places left for scored ones
    fitted = [trial.digest for trial in choice.trials if trial.rung == 1]
    assert fitted == [HAND_MADE[2].digest, HAND_MADE[0].digest, HAND_MADE[1].digest]  # included first, once
    assert winner_meta(choice, cost=1.5, budget=3.0)["included"] == [HAND_MADE[2].label]
    with pytest.raises(ValueError, match="the plan includes 1 architectures, 0 given"):
        choose(oracle_request, plan, tmp_path / "other", "test-oracle", "test-score")
