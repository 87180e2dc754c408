"""The search driver: ask the searcher, evaluate through an executor, record everything, resume exactly.

A search proceeds in rounds. Each round the searcher proposes a batch; the proposals and the searcher's state
right after proposing are saved (``pending.pt``) before anything is evaluated; each finished trial is appended to
``trials.jsonl``; when the round is complete the searcher is told every reward in proposal order and its state
is saved (``state.pt``). An interrupted search therefore resumes by restoring the pending round and evaluating
only its unfinished proposals, and goes on exactly as the uninterrupted search would have.

Architectures already evaluated are not evaluated again: their trial is a ``duplicate`` repeating the earlier
reward, and it does not count against the budget (the number of evaluations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from nasdip import registry
from nasdip.arch import Arch
from nasdip.errors import NasdipError
from nasdip.events import RunInfo
from nasdip.executor import Executor
from nasdip.plugin_manager import notify
from nasdip.problems import builtin_regions, degrade_set, folder_images, observed_set
from nasdip.search.evaluate import EvalJob, EvalOutcome, problem_from_dict, problem_to_dict
from nasdip.search.records import DUPLICATE, FAILED, OK, SearchSummary, Trial
from nasdip.search.rundir import RunDirectory
from nasdip.search.settings import DEFAULT_FIDELITY, SearchSettings
from nasdip.searcher import FitObjective, SearchContext, Searcher
from nasdip.task import Problem

#: A search stops after this many consecutive duplicate proposals (a converged searcher).
MAX_CONSECUTIVE_DUPLICATES = 100


class SearchDriver:
    """Runs (or resumes) one search in a run directory."""

    def __init__(self, settings: SearchSettings, run_dir: RunDirectory, problems: Sequence[Problem],
                 on_trial: Callable[[Trial], None] | None = None) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.problems = list(problems)
        self.on_trial = on_trial
        self.task = settings.make_task()
        self.space = registry.get("spaces", settings.space)
        self.reward = registry.get("rewards", settings.reward)
        self.fit_settings = self.settings.fit_settings(self.task)
        self.config = settings.net_config()
        self.info = RunInfo("search", run_dir.logdir, tag="search", config=settings.to_dict())
        self.context = SearchContext(log=self._log_searcher, objective=FitObjective(
            task=self.task, problems=self.problems, settings=self.fit_settings, config=self.config))
        searcher_class = registry.get("searchers", settings.searcher)
        self.searcher: Searcher = searcher_class(self.space, seed=settings.seed, context=self.context,
                                                 **settings.searcher_options)
        self.trials: dict[int, Trial] = {}
        self.by_digest: dict[str, Trial] = {}
        self.best: Trial | None = None
        self.best_output: torch.Tensor | None = None
        self.elapsed_before = 0.0
        self.session_start = time.perf_counter()

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.session_start

    @property
    def evaluated(self) -> int:
        return sum(trial.status in (OK, FAILED) for trial in self.trials.values())

    def _log_searcher(self, scalars: dict[str, float], step: int) -> None:
        notify("searcher_progress", run=self.info, step=step, scalars=scalars)

    def _record(self, trial: Trial) -> None:
        self._remember(trial)
        self.run_dir.append_trial(trial)
        notify("trial_finished", run=self.info, trial=trial)
        if self.on_trial is not None:
            self.on_trial(trial)

    def _best_reward(self) -> float | None:
        return self.best.reward if self.best else None

    def _remember(self, trial: Trial) -> None:
        self.trials[trial.index] = trial
        if trial.status in (OK, FAILED):
            self.by_digest.setdefault(trial.digest, trial)

    def _evaluated_with(self, arch: Arch) -> Trial | None:
        return self.by_digest.get(arch.digest)

    def _consecutive_duplicates(self) -> int:
        count = 0
        for index in sorted(self.trials, reverse=True):
            if self.trials[index].status != DUPLICATE:
                break
            count += 1
        return count

    def _trial(self, index: int, round_: int, arch: Arch, **fields: Any) -> Trial:
        return Trial(index=index, round=round_, arch=arch.to_dict(), digest=arch.digest,
                     fidelity=self.settings.fidelity.to_dict(), elapsed=round(self.elapsed, 3),
                     best_reward=self._best_reward(), **fields)

    def _on_outcome(self, outcome: EvalOutcome, round_: int, arch: Arch) -> None:
        trial = self._trial(outcome.trial, round_, arch, status=outcome.status, reward=outcome.reward,
                            seconds=round(outcome.seconds, 3), metrics=outcome.metrics, error=outcome.error)
        if outcome.status == OK and (self.best is None or outcome.reward > self.best.reward):
            self.best = trial
            trial.best_reward = outcome.reward
            self.best_output = outcome.outputs[0] if outcome.outputs else None
            self.run_dir.save_best(self._best_arch(), self.best_output)
        self._record(trial)

    def _best_arch(self) -> Arch:
        arch = self.best.architecture
        return arch.replace(name=f"best-{self.settings.searcher}-{self.settings.task}", meta={
            "found_by": self.settings.searcher, "task": self.task.describe(), "reward": self.best.reward,
            "reward_name": self.settings.reward, "trial": self.best.index, "fidelity": self.settings.fidelity.to_dict(),
            "seed": self.settings.seed, "run_dir": str(self.run_dir.path)})

    # -- rounds -----------------------------------------------------------------------------------

    def _job(self, index: int, arch: Arch) -> EvalJob:
        return EvalJob(trial=index, arch=arch.to_dict(), task=self.settings.task,
                       task_values=dict(self.settings.task_values),
                       problems=[problem_to_dict(problem) for problem in self.problems],
                       config=self.config.to_dict(), settings=self.fit_settings.to_dict(), reward=self.settings.reward)

    def _play_round(self, round_: int, first: int, proposals: Sequence[Arch], executor: Any) -> None:
        jobs: list[tuple[EvalJob, Arch]] = []
        duplicates: list[tuple[int, Arch, str]] = []
        in_round: dict[str, int] = {}
        for offset, arch in enumerate(proposals):
            index = first + offset
            if index in self.trials:
                in_round.setdefault(arch.digest, index)
                continue  # finished before an interruption
            earlier = self._evaluated_with(arch)
            if earlier is not None:
                duplicates.append((index, arch, earlier.digest))
            elif arch.digest in in_round:
                duplicates.append((index, arch, arch.digest))
            else:
                in_round[arch.digest] = index
                jobs.append((self._job(index, arch), arch))
        by_index = {job.trial: (arch, round_) for job, arch in jobs}
        executor.run([job for job, _ in jobs],
                     lambda outcome: self._on_outcome(outcome, by_index[outcome.trial][1], by_index[outcome.trial][0]))
        for index, arch, _ in duplicates:
            original = self._evaluated_with(arch)
            self._record(self._trial(index, round_, arch, status=DUPLICATE, reward=original.reward, seconds=0.0,
                                     duplicate_of=original.index))
        for offset, arch in enumerate(proposals):
            self.searcher.tell(arch, self.trials[first + offset].reward)

    def _save_round(self, round_: int, proposed: int) -> None:
        self.run_dir.save_state({"round": round_, "proposed": proposed, "elapsed": self.elapsed,
                                 "searcher": self.searcher.state_dict()})
        self.run_dir.clear_pending()

    def _load_progress(self) -> tuple[int, int, dict[str, Any] | None]:
        """Trials, searcher state and the pending round from the run directory: ``(round, proposed, pending)``."""
        for trial in self.run_dir.trials():
            self._remember(trial)
            if trial.status == OK and (self.best is None or trial.reward > self.best.reward):
                self.best = trial
        state = self.run_dir.load_state() or {"round": 0, "proposed": 0, "elapsed": 0.0, "searcher": None}
        # Time already spent: up to the last trial recorded, which may be later than the last saved round.
        self.elapsed_before = max([state["elapsed"], *(trial.elapsed for trial in self.trials.values())])
        if state["searcher"] is not None:
            self.searcher.load_state_dict(state["searcher"])
        pending = self.run_dir.load_pending()
        if pending is not None and pending["round"] != state["round"]:
            pending = None  # a round whose state was saved before its pending file could be removed
        if self.trials:  # resuming: rewrite the log without a line torn by the interruption
            self.run_dir.repair_trials(sorted(self.trials.values(), key=lambda trial: trial.index))
        return state["round"], state["proposed"], pending

    def _stop_reason(self) -> str | None:
        """Why the search must stop now, or ``None`` to go on."""
        if self.settings.budget - self.evaluated <= 0:
            return "budget reached"
        if self.searcher.finished():
            return "searcher finished"
        if self._consecutive_duplicates() >= MAX_CONSECUTIVE_DUPLICATES:
            return "searcher converged (it proposed only architectures already evaluated)"
        return None

    def _rounds(self, executor: Executor, round_: int, proposed: int, pending: dict[str, Any] | None) -> str:
        """Finish the pending round, then play rounds until a stop reason comes; returns it."""
        if pending is not None:
            self.searcher.load_state_dict(pending["searcher"])
            proposals = [Arch.from_dict(document) for document in pending["proposals"]]
        while True:
            if pending is None:
                reason = self._stop_reason()
                if reason is not None:
                    return reason
                proposals = self.searcher.ask_batch(min(self.settings.batch, self.settings.budget - self.evaluated))
                self.run_dir.save_pending({"round": round_, "proposals": [a.to_dict() for a in proposals],
                                           "searcher": self.searcher.state_dict()})
            pending = None
            self._play_round(round_, proposed, proposals, executor)
            round_, proposed = round_ + 1, proposed + len(proposals)
            self._save_round(round_, proposed)

    def run(self) -> SearchSummary:
        """Search until the budget is spent, the searcher is finished or only duplicates come."""
        round_, proposed, pending = self._load_progress()
        settings = self.settings
        executor = registry.get("executors", settings.executor)(
            workers=settings.workers, trial_timeout=settings.trial_timeout, **settings.executor_options)
        notify("run_started", run=self.info)
        try:
            with executor:
                reason = self._rounds(executor, round_, proposed, pending)
            summary = self.summary(reason)
            notify("search_finished", run=self.info, summary=summary)
            return summary
        finally:
            notify("run_finished", run=self.info)
            self.run_dir.unlock()

    def summary(self, reason: str) -> SearchSummary:
        trials = list(self.trials.values())
        return SearchSummary(
            run_dir=self.run_dir.path, searcher=self.settings.searcher, space=self.settings.space,
            task=self.task.describe(), trials=len(trials), evaluated=self.evaluated,
            failed=sum(t.status == FAILED for t in trials), duplicates=sum(t.status == DUPLICATE for t in trials),
            best_reward=self._best_reward(), best_trial=self.best.index if self.best else None,
            best_arch=self._best_arch() if self.best else None, seconds=round(self.elapsed, 3), reason=reason,
            best_output=self.best_output,
        )


def search_problems(settings: SearchSettings, images: Path | None) -> list[Problem]:
    """The search images: degraded crops of the built-in photo or of ``images`` (clean), or ``images`` as
    they are (``settings.observed``: already degraded, no clean versions)."""
    from nasdip.errors import UsageError

    task, crop = settings.make_task(), settings.fidelity.crop
    if settings.observed:
        if images is None:
            raise UsageError("--observed needs --images DIR (a folder of degraded images)")
        return observed_set(task, images, crop)
    cleans = builtin_regions(crop or DEFAULT_FIDELITY.crop) if images is None else folder_images(images, crop)
    return degrade_set(task, cleans, settings.seed)


def start_search(settings: SearchSettings, run_dir: Path, images: Path | None,
                 on_trial: Callable[[Trial], None] | None = None) -> SearchDriver:
    """A driver for a new search and its run directory; nothing is written unless every setting is valid."""
    settings.validate()
    problems = search_problems(settings, images)
    directory = RunDirectory(run_dir)
    directory.check_new()
    driver = SearchDriver(settings, directory, problems, on_trial)
    directory.lock()
    directory.create(settings.to_dict())
    directory.save_problems([problem_to_dict(problem) for problem in problems])
    return driver


def resume_search(run_dir: Path, on_trial: Callable[[Trial], None] | None = None,
                  budget: int | None = None) -> SearchDriver:
    """A driver continuing the search in ``run_dir`` (optionally with a larger budget)."""
    directory = RunDirectory.open(run_dir)
    directory.lock()
    settings = SearchSettings.from_dict(directory.config)
    if budget is not None and budget != settings.budget:
        settings.budget = budget
    stored = directory.load_problems()
    if stored is None:
        raise NasdipError(f"{run_dir}: the run has no problems.pt; it cannot be resumed")
    return SearchDriver(settings, directory, [problem_from_dict(p) for p in stored], on_trial)
