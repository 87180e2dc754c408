"""An architecture for one observation, chosen without a clean image in a few fits' cost (``restore --arch auto``).

Random candidates of a space are scored on the observation by a training-free score (a score rung, default ``psd``);
the best go through successive halving (eta :data:`AUTO_ETA`) fitted on the observation itself and ranked by the
task's no-reference reward (:attr:`nasdip.Task.no_reference_reward`: held-out pixels, or cross-scale
self-validation for super-resolution). The ladder's last rung is the restoration at the user's own settings: the
selection is a search (:class:`nasdip.search.driver.SearchDriver`: its run directory, trials log and TensorBoard
logging) that stops when only that rung is left, and the caller restores the one survivor, so the winner is fitted
once at full fidelity. Known architectures (``include``: the task's presets, say) skip the score and join the
first selection rung in the places of as many scored candidates, so they cost what those would.

Cost is counted in plain fits: fitting steps x output pixels, over those of one fit at the user's settings (its
step cap). :func:`plan_auto` spends ``budget`` of them: one for the restoration, the rest on up to
:data:`MAX_SELECTION_RUNGS` selection rungs that cost alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nasdip import registry
from nasdip.arch.document import Arch
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.request import FitRequest
from nasdip.search.driver import SearchDriver, crop_key, start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.ladder import check_score_rung
from nasdip.search.records import OK, Trial
from nasdip.search.reward import fit_problems
from nasdip.search.settings import SearchSettings

#: Promotion factor of the halving rungs: the best third goes up.
AUTO_ETA = 3
#: Most selection rungs (3: 27 candidates fitted at the first).
MAX_SELECTION_RUNGS = 3
#: Fewest steps a selection rung fits: shorter fits rank architectures poorly (the fidelity study: 100 steps ranked
#: against the deployment quality); a budget that pays only for shorter ones chooses by the score alone.
MIN_SELECTION_STEPS = 200
#: Candidates scored when the user does not say (scoring costs forward passes only: a few percent of one fit).
DEFAULT_CANDIDATES = 200
#: Plain fits the choice and the restoration may cost together when the user does not say.
DEFAULT_BUDGET = 3.0
#: The training-free score of the score rung when the user does not say.
DEFAULT_SCORE = "psd"


@dataclass(frozen=True)
class AutoPlan:
    """How a choice spends its budget: the selection rungs' steps (cheapest first; none: the score alone), the
    candidates scored for each one fitted at the first of them, and what a selection fit costs against the
    restoration's (its output pixels over the restoration's, at the restoration's step cap ``iters``); ``included``
    of the first selection rung's places go to known architectures instead of scored candidates."""

    steps: tuple[int, ...]
    score_eta: int
    ratio: float
    iters: int
    included: int = 0

    @property
    def fitted(self) -> list[int]:
        """Candidates fitted at each selection rung."""
        return [AUTO_ETA ** (len(self.steps) - rung) for rung in range(len(self.steps))]

    @property
    def scored(self) -> int:
        return self.score_eta * ((self.fitted[0] - self.included) if self.steps else 1)

    @property
    def evaluations(self) -> int:
        """What the choice plays: the candidates scored and the selection rungs' fits (not the top rung: the
        caller's restoration, see :class:`SelectionDriver`)."""
        return self.scored + sum(self.fitted)

    @property
    def cost(self) -> float:
        """Planned plain fits: the selection rungs' fits (at their caps) and the restoration."""
        return 1 + self.ratio * sum(n * s for n, s in zip(self.fitted, self.steps, strict=True)) / self.iters

    def ladder(self, score: str, width: int) -> list[Fidelity]:
        """The score rung, the selection rungs and the restoration's rung, all on the whole observation."""
        return [Fidelity(0, None, width, score=score, eta=self.score_eta),
                *(Fidelity(steps, None, width) for steps in self.steps), Fidelity(self.iters, None, width)]


def plan_auto(candidates: int, budget: float, iters: int, ratio: float = 1.0) -> AutoPlan:
    """The most selection rungs (up to :data:`MAX_SELECTION_RUNGS`) that ``candidates`` and ``budget`` pay for, each
    fitting ``eta**k`` candidates for ``gain * iters / eta**k`` steps (``gain`` at most eta, so the last fits at most
    the restoration's ``iters``); one-line errors for fewer than 2 candidates or a budget below one fit."""
    if candidates < 2:
        raise UsageError(f"--auto-candidates must be at least 2 (the score chooses among them), got {candidates}")
    if budget < 1:
        raise UsageError(f"--auto-budget {budget:g} is below one fit: the restoration alone costs 1; give at least 1 "
                         f"(default {DEFAULT_BUDGET:g})")
    for rungs in range(MAX_SELECTION_RUNGS, 0, -1):
        if 2 * AUTO_ETA**rungs > candidates:
            continue
        gain = min(AUTO_ETA, (budget - 1) / (ratio * rungs))
        steps = tuple(min(iters - 1, int(gain * iters / AUTO_ETA ** (rungs - k) + 1e-9)) for k in range(rungs))
        if steps[0] >= MIN_SELECTION_STEPS and len(set(steps)) == rungs:
            return AutoPlan(steps, candidates // AUTO_ETA**rungs, ratio, iters)
    return AutoPlan((), candidates, ratio, iters)


def include_in(plan: AutoPlan, include: Sequence[Arch], given: bool) -> tuple[AutoPlan, tuple[Arch, ...]]:
    """The plan with the distinct ``include`` architectures in up to half the first selection rung's places (the
    rest are the score's); beyond that the user's (``given``) are refused in one line, a task's defaults left out.
    A plan without selection rungs chooses by the score alone and includes none."""
    distinct = tuple({arch.digest: arch for arch in include}.values())
    room = plan.fitted[0] // 2 if plan.steps else 0
    if given and len(distinct) > room:
        where = (f"its first selection rung fits {plan.fitted[0]} candidates, at most {room} of them included" if
                 plan.steps else "the budget pays for no selection rung (the score alone chooses)")
        raise UsageError(f"--auto-include names {len(distinct)} architectures, but {where}; name fewer, or raise "
                         f"--auto-candidates and --auto-budget")
    kept = distinct[:room]
    return replace(plan, included=len(kept)), kept


def no_reference_reward(request: FitRequest, chosen: str | None = None) -> str:
    """``chosen`` (``--auto-reward``), else the task's declared no-reference reward; a task that declares none (or
    an unknown one), or a chosen reward that needs clean images or no fit, is refused in one line."""
    task = request.task
    if chosen is not None:
        reward = registry.get("rewards", chosen)
        if reward.needs_clean:
            raise UsageError(f"--auto-reward {chosen} needs clean images; choose a no-reference reward, e.g. "
                             f"{task.no_reference_reward or 'holdout'}")
        if not reward.needs_fit:
            raise UsageError(f"--auto-reward {chosen} is a training-free score; give it as --auto-score {chosen}")
        return chosen
    name = task.no_reference_reward
    if name is None:
        raise UsageError(f"task {task.name!r} declares no no-reference reward (Task.no_reference_reward), so --arch "
                         f"auto cannot rank candidates without a clean image; choose one with --arch")
    if name not in registry.names("rewards"):
        raise UsageError(f"task {task.name!r} declares the no-reference reward {name!r}, which no plugin registers")
    return name


def fit_ratio(request: FitRequest, reward: str) -> float:
    """A selection fit's output pixels over the restoration's (1 unless the reward fits a self-validation
    problem); a problem the reward cannot use is refused here, before any work."""
    problem = request.problem
    fitted = fit_problems(registry.get("rewards", reward), request.task, [problem])[0]
    return (fitted.output_size[0] * fitted.output_size[1]) / (problem.output_size[0] * problem.output_size[1])


@dataclass
class AutoChoice:
    """What a choice found: the winner (named, its ``meta`` saying how it was chosen), the search's trials, the
    step-pixels its fits spent and the architectures it included unscored."""

    arch: Arch
    plan: AutoPlan
    reward: str
    score: str
    trials: list[Trial]
    step_pixels: int
    run_dir: Path | None
    included: tuple[Arch, ...] = ()

    def cost(self, restoration_step_pixels: int, plain_step_pixels: int) -> float:
        """Plain fits spent by the choice and the restoration (``restoration_step_pixels``) together."""
        return (self.step_pixels + restoration_step_pixels) / plain_step_pixels


class SelectionDriver(SearchDriver):
    """A search that ends when only its top rung is left to play: the candidate it would fit there is the winner."""

    winner: Arch | None = None

    def _next_round(self, round_, pending):
        jobs = super()._next_round(round_, pending)
        if jobs and all(job.rung == self.top for job in jobs):
            self.winner = jobs[0].arch
            return None
        return jobs


def selection_settings(request: FitRequest, plan: AutoPlan, reward: str, score: str, space: str,
                       searcher: str = "random", workers: int = 1, include: Sequence[Arch] = ()) -> SearchSettings:
    """The search that plays the score and selection rungs: ``searcher``'s candidates (and ``include``, unscored),
    halving, the restoration's seed, device, precision and learning rate; its stopping rule where every selection
    rung leaves it room; with several ``workers``, the ``process`` executor (local worker processes)."""
    task, settings = request.task, request.settings
    roomy = all(steps > settings.stop_window for steps in plan.steps)
    stopping = {"stop": settings.stop if roomy else "iters", "stop_window": settings.stop_window,
                "stop_patience": settings.stop_patience, "holdout": settings.holdout or None}
    return SearchSettings(searcher=searcher, task=task.name, space=space, task_values=dict(task.values),
                          reward=reward, budget=plan.fitted[0] if plan.steps else 1, lr=settings.lr,
                          seed=settings.seed, device=settings.device, precision=settings.precision,
                          images=request.problem.name, observed=True, stopping=stopping,
                          schedule="halving" if plan.steps else "none", eta=AUTO_ETA,
                          ladder=plan.ladder(score, request.config.width),
                          executor="process" if workers > 1 else "", workers=workers,
                          include=[arch.to_dict() for arch in include])


def choose(request: FitRequest, plan: AutoPlan, run_dir: Path, reward: str, score: str = DEFAULT_SCORE,
           space: str = "", log: bool = False, on_trial: Callable[[Trial], None] | None = None,
           on_start: Callable[[SearchDriver], None] | None = None, searcher: str = "random",
           workers: int = 1, include: Sequence[Arch] = ()) -> AutoChoice:
    """Play the score and selection rungs on the request's observation (its clean image, if any, never seen) in
    the new run directory ``run_dir`` (TensorBoard logs there with ``log``), candidates proposed by ``searcher``
    (default: uniformly random) besides ``include`` (``plan.included`` of them: see :func:`include_in`) and
    evaluated on ``workers`` local processes (1: in this one); the winner and what it cost."""
    include = tuple(include)
    if len(include) != plan.included:
        raise ValueError(f"the plan includes {plan.included} architectures, {len(include)} given (see include_in)")
    settings = selection_settings(request, plan, reward, score, space or registry.default_name("spaces"), searcher,
                                  workers, include)
    check_score_rung(settings.rungs)
    observed = replace(request.problem, clean=None)
    driver = start_search(settings, run_dir, None, on_trial, problems={crop_key(None): [observed]},
                          driver=SelectionDriver)
    if not log:
        driver.info = replace(driver.info, logdir=None)
    if on_start is not None:
        on_start(driver)
    driver.run()
    if driver.winner is None:
        raise NasdipError(f"every candidate failed before the restoration's rung; their errors are in "
                          f"{run_dir / 'trials.jsonl'}")
    trials = sorted(driver.trials.values(), key=lambda trial: trial.index)
    spent = sum(int(trial.metrics.get("step_pixels", 0)) for trial in trials if trial.status == OK)
    return AutoChoice(driver.winner, plan, reward, score, trials, spent, run_dir if log else None, include)


def winner_meta(choice: AutoChoice, cost: float, budget: float) -> dict[str, Any]:
    """How the winner was chosen, for its architecture document: the score and reward at each rung it passed,
    the candidates at each rung and the cost in plain fits."""
    digest = choice.arch.digest
    passed = [{"rung": trial.rung, "fidelity": trial.fidelity, "reward": trial.reward} for trial in choice.trials
              if trial.digest == digest and trial.status == OK]
    return {"chosen_by": "nasdip restore --arch auto", "score": choice.score, "reward": choice.reward,
            "scored": sum(trial.rung == 0 and trial.status != "duplicate" for trial in choice.trials),
            "included": [arch.label for arch in choice.included],
            "fitted": choice.plan.fitted, "selection_steps": list(choice.plan.steps), "winner": passed,
            "cost": round(cost, 3), "planned_cost": round(choice.plan.cost, 3), "budget": budget,
            **({"run_dir": str(choice.run_dir)} if choice.run_dir else {})}
