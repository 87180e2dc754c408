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
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from nasdip import registry
from nasdip.arch.catalog import resolve_arch
from nasdip.arch.document import Arch
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import degrade_set, folder_images, named, observed_set
from nasdip.fit.problem import Problem
from nasdip.fit.restoration import gallery
from nasdip.io.builtin import builtin_regions
from nasdip.runinfo import RunInfo
from nasdip.search.baseline import ARCH_BASELINE, Baseline, arch_baseline, input_baseline
from nasdip.search.evaluate import evaluate
from nasdip.search.executor import Executor
from nasdip.search.jobs import EvalJob, EvalOutcome
from nasdip.search.records import DUPLICATE, FAILED, OK, SearchSummary, Trial
from nasdip.search.reward import fit_problems
from nasdip.search.rundir import RunDirectory
from nasdip.search.schedule import Job
from nasdip.search.searcher import FitObjective, SearchContext, Searcher
from nasdip.search.settings import DEFAULT_FIDELITY, SearchSettings

#: A search stops after this many consecutive duplicate proposals (a converged searcher).
MAX_CONSECUTIVE_DUPLICATES = 100


def choice_order(arch: Arch) -> tuple[str, tuple[int, ...]]:
    """The order a score round runs its candidates in: by their choices in their space's decision order (trial
    numbers, and the order the searcher hears the rewards in, stay the proposal's). Candidates that share their
    first decisions (on the NAS-DIP spaces the cell, and with it every initial weight) run one after another, so
    that training-free scores rebuild the same network and reuse what its upsamplers computed
    (:mod:`nasdip.fit.untrained`)."""
    try:
        return arch.space, registry.get("spaces", arch.space).encode(arch)
    except Exception:  # a candidate its space cannot encode fails in its own evaluation, not here
        return arch.space, ()


class SearchDriver:
    """Runs (or resumes) one search in a run directory."""

    def __init__(self, settings: SearchSettings, run_dir: RunDirectory, problems: ProblemSets,
                 on_trial: Callable[[Trial], None] | None = None) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.problems = problems
        self.on_trial = on_trial
        #: Hears ``(trial, fraction of its fitting steps done)`` from executors that report running jobs.
        self.on_step: Callable[[int, float], None] | None = None
        self.task = settings.make_task()
        self.space = registry.get("spaces", settings.space)
        self.reward = registry.get("rewards", settings.reward)
        self.ladder = settings.rungs
        self.top = len(self.ladder) - 1
        self.fit_settings = [settings.fit_settings(self.task, rung) for rung in self.ladder]
        self.configs = [settings.net_config(rung) for rung in self.ladder]
        self.info = RunInfo("search", run_dir.logdir, tag="search", config=settings.to_dict())
        # Searchers that optimise through the objective see it at the deployment fidelity (the top rung).
        self.context = SearchContext(log=self._log_searcher, objective=FitObjective(
            task=self.task, problems=self._problems(self.top), settings=self.fit_settings[-1],
            config=self.configs[-1]))
        searcher_class = registry.get("searchers", settings.searcher)
        self.searcher: Searcher = searcher_class(self.space, seed=settings.seed, context=self.context,
                                                 **settings.searcher_options)
        self.schedule = settings.make_schedule()
        self.trials: dict[int, Trial] = {}
        self.by_digest: dict[tuple[str, int], Trial] = {}
        self.best: dict[int, Trial] = {}  # the best trial at each rung
        self.best_output: torch.Tensor | None = None
        self.resumed_running: list = []  # [index, arch, rung] of the jobs an asynchronous schedule had running
        self.elapsed_before = 0.0
        self.session_start = time.perf_counter()
        self.baseline = input_baseline(self.task, self._problems(self.top), self.reward)
        self.arch_baseline: Baseline | None = None

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.session_start

    @property
    def evaluated(self) -> int:
        return sum(trial.status in (OK, FAILED) for trial in self.trials.values())

    @property
    def fitted(self) -> int:
        """Evaluations at the fitted rungs (what a schedule's budget counts; a score rung's are free)."""
        return sum(trial.status in (OK, FAILED) and self.ladder[trial.rung].score is None
                   for trial in self.trials.values())

    def _problems(self, rung: int) -> list[Problem]:
        return self.problems[crop_key(self.ladder[rung].crop)]

    def _log_searcher(self, scalars: dict[str, float], step: int) -> None:
        self.info.emit("searcher_progress", step=step, scalars=scalars)

    def _record(self, trial: Trial, evaluation: EvalOutcome | None = None) -> None:
        self._remember(trial)
        self.run_dir.append_trial(trial)
        self.info.emit("trial_finished", trial=trial, evaluation=evaluation)
        if self.on_trial is not None:
            self.on_trial(trial)

    def _leader(self) -> Trial | None:
        """The best trial at the top rung, else at the highest rung with a success."""
        return self.best[max(self.best)] if self.best else None

    def _top_reward(self) -> float | None:
        return self.best[self.top].reward if self.top in self.best else None

    def _remember(self, trial: Trial) -> None:
        self.trials[trial.index] = trial
        if trial.status in (OK, FAILED):
            self.by_digest.setdefault((trial.digest, trial.rung), trial)
        if trial.status == OK and (trial.rung not in self.best or trial.reward > self.best[trial.rung].reward):
            self.best[trial.rung] = trial

    def _consecutive_duplicates(self) -> int:
        count = 0
        for index in sorted(self.trials, reverse=True):
            if self.trials[index].status != DUPLICATE:
                break
            count += 1
        return count

    def _trial(self, index: int, round_: int, job: Job, **fields: Any) -> Trial:
        return Trial(index=index, round=round_, arch=job.arch.to_dict(), digest=job.arch.digest, rung=job.rung,
                     fidelity=self.ladder[job.rung].to_dict(), elapsed=round(self.elapsed, 3),
                     best_reward=self._top_reward(), **fields)

    def _on_outcome(self, outcome: EvalOutcome, round_: int, job: Job) -> None:
        trial = self._trial(outcome.trial, round_, job, status=outcome.status, reward=outcome.reward,
                            seconds=round(outcome.seconds, 3), metrics=outcome.metrics, error=outcome.error)
        leader = self._leader()
        if outcome.status == OK and (leader is None or job.rung > leader.rung or
                                     (job.rung == leader.rung and outcome.reward > leader.reward)):
            problems = self._problems(job.rung)
            self.best_output = (gallery(self.task, problems, outcome.outputs)
                                if len(outcome.outputs) == len(problems) else None)
            self._remember(trial)
            trial.best_reward = self._top_reward()
            self.run_dir.save_best(self._best_arch(), self.best_output)
        self._record(trial, outcome)

    def _best_arch(self) -> Arch:
        best = self._leader()
        return best.architecture.replace(name=f"best-{self.settings.searcher}-{self.settings.task}", meta={
            "found_by": self.settings.searcher, "task": self.task.describe(), "reward": best.reward,
            "reward_name": self.settings.reward, "trial": best.index, "rung": best.rung,
            "fidelity": self.ladder[best.rung].to_dict(), "seed": self.settings.seed,
            "run_dir": str(self.run_dir.path)})

    # -- rounds -----------------------------------------------------------------------------------

    def _job(self, index: int, job: Job) -> EvalJob:
        return EvalJob(trial=index, arch=job.arch.to_dict(), task=self.settings.task,
                       task_values=dict(self.settings.task_values),
                       problems=[problem.to_dict() for problem in self._problems(job.rung)],
                       config=self.configs[job.rung].to_dict(), settings=self.fit_settings[job.rung].to_dict(),
                       reward=self.ladder[job.rung].score or self.settings.reward)

    def _play_round(self, round_: int, first: int, jobs: Sequence[Job], executor: Any) -> None:
        to_run: dict[int, Job] = {}
        duplicates: list[tuple[int, Job]] = []
        in_round: set[tuple[str, int]] = set()
        for index, job in enumerate(jobs, start=first):
            key = (job.arch.digest, job.rung)
            if index in self.trials:
                self._check_replay(index, job)
                in_round.add(key)
                continue  # finished before an interruption
            if key in self.by_digest or key in in_round:
                duplicates.append((index, job))
            else:
                in_round.add(key)
                to_run[index] = job
        scoring = all(self.ladder[job.rung].score for job in to_run.values())
        order = sorted(to_run.items(), key=lambda pair: choice_order(pair[1].arch)) if scoring else to_run.items()
        executor.run([self._job(index, job) for index, job in order],
                     lambda outcome: self._on_outcome(outcome, round_, to_run[outcome.trial]))
        for index, job in duplicates:
            self._record_duplicate(index, round_, job)
        rewards = [self.trials[index].reward for index in range(first, first + len(jobs))]
        self.searcher.tell_round([(job.arch, reward, job.rung) for job, reward in zip(jobs, rewards, strict=True)])
        self.schedule.completed(jobs, rewards)

    def _check_replay(self, index: int, job: Job) -> None:
        """A recorded trial met again (resuming a round, or replaying the trials log without the searcher's state)
        must be the proposal it recorded."""
        trial = self.trials[index]
        if (trial.digest, trial.rung) != (job.arch.digest, job.rung):
            raise NasdipError(f"{self.run_dir.path / 'trials.jsonl'}: trial {index} recorded architecture "
                              f"{trial.digest} at rung {trial.rung}, but the searcher now proposes "
                              f"{job.arch.digest} at rung {job.rung}: the log cannot be replayed (was state.pt "
                              f"deleted from a search whose searcher does not replay?); start a new search")

    def _record_duplicate(self, index: int, round_: int, job: Job) -> Trial:
        """A trial repeating the reward of the evaluation of the same architecture at the same rung."""
        original = self.by_digest[(job.arch.digest, job.rung)]
        trial = self._trial(index, round_, job, status=DUPLICATE, reward=original.reward, seconds=0.0,
                            duplicate_of=original.index)
        self._record(trial)
        return trial

    def _save_round(self, round_: int, proposed: int) -> None:
        self.run_dir.save_state({"round": round_, "proposed": proposed, "elapsed": self.elapsed,
                                 "searcher": self.searcher.state_dict(), "schedule": self.schedule.state_dict()})
        self.run_dir.clear_pending()

    def _load_progress(self) -> tuple[int, int, dict[str, Any] | None]:
        """Trials, searcher and schedule state and the pending round from the run directory:
        ``(round, proposed, pending)``."""
        for trial in self.run_dir.trials():
            self._remember(trial)
        state = self.run_dir.load_state() or {"round": 0, "proposed": 0, "elapsed": 0.0, "searcher": None}
        running = {entry[0] for entry in state.get("running", [])}  # an asynchronous schedule's unfinished jobs
        missing = [index for index in range(state["proposed"]) if index not in self.trials and index not in running]
        if missing:
            raise NasdipError(f"{self.run_dir.path / 'trials.jsonl'}: trials {missing[0]}-{missing[-1]} are missing, "
                              f"though state.pt records {state['proposed']} proposals: restore the file, or start "
                              f"a new search in another --run-dir")
        self.resumed_running = state.get("running", [])
        # Time already spent: up to the last trial recorded, which may be later than the last saved round.
        self.elapsed_before = max([state["elapsed"], *(trial.elapsed for trial in self.trials.values())])
        if state["searcher"] is not None:
            self.searcher.load_state_dict(state["searcher"])
        if state.get("schedule") is not None:
            self.schedule.load_state_dict(state["schedule"])
        pending = self.run_dir.load_pending()
        if pending is not None and pending["round"] != state["round"]:
            pending = None  # a round whose state was saved before its pending file could be removed
        if self.trials:  # resuming: rewrite the log without a line torn by the interruption
            self.run_dir.repair_trials(sorted(self.trials.values(), key=lambda trial: trial.index))
        return state["round"], state["proposed"], pending

    def _stop_reason(self) -> str | None:
        """Why the search must stop before the next round, or ``None`` to go on."""
        if self.schedule.exhausted(self.fitted):
            return "budget reached"
        if not self.schedule.needs_candidates():
            return None  # promotions go on whatever the searcher says
        if self.searcher.finished():
            return "searcher finished"
        if self._consecutive_duplicates() >= MAX_CONSECUTIVE_DUPLICATES:
            return "searcher converged (it proposed only architectures already evaluated)"
        return None

    def _next_round(self, round_: int, pending: dict[str, Any] | None) -> list[Job] | None:
        """The pending round's jobs (restoring the searcher and schedule as they were), or a new round."""
        if pending is not None:
            self.searcher.load_state_dict(pending["searcher"])
            if pending.get("schedule") is not None:
                self.schedule.load_state_dict(pending["schedule"])
            rungs = pending.get("rungs") or [0] * len(pending["proposals"])
            return [Job(Arch.from_dict(document), rung) for document, rung in zip(pending["proposals"], rungs,
                                                                                    strict=True)]
        jobs = self.schedule.next_round(self.searcher, self.fitted)
        if jobs is not None:
            self.run_dir.save_pending({"round": round_, "proposals": [job.arch.to_dict() for job in jobs],
                                       "rungs": [job.rung for job in jobs], "searcher": self.searcher.state_dict(),
                                       "schedule": self.schedule.state_dict()})
        return jobs

    def _rounds(self, executor: Executor, round_: int, proposed: int, pending: dict[str, Any] | None) -> str:
        """Finish the pending round, then play rounds until a stop reason comes; returns it."""
        while True:
            reason = None if pending is not None else self._stop_reason()
            if reason is not None:
                return reason
            jobs = self._next_round(round_, pending)
            if jobs is None:
                return "budget reached"
            pending = None
            self._play_round(round_, proposed, jobs, executor)
            round_, proposed = round_ + 1, proposed + len(jobs)
            self._save_round(round_, proposed)

    # -- asynchronous schedules: one job at a time -------------------------------------------------

    def _stream(self, executor: Executor, proposed: int) -> str:
        """Play an asynchronous schedule: whenever a worker is free, the schedule picks its job from every result
        so far. The state (searcher, schedule, running jobs) is saved after every proposal and every result, so
        a killed search resumes by starting its running jobs again."""
        running = RunningJobs()
        restart: deque[EvalJob] = deque()
        next_index = proposed

        def save() -> None:
            self.run_dir.save_state({"round": next_index, "proposed": next_index, "elapsed": self.elapsed,
                                     "searcher": self.searcher.state_dict(), "schedule": self.schedule.state_dict(),
                                     "running": running.to_list()})

        def admit(index: int, job: Job) -> EvalJob | None:
            """The evaluation to start for a proposal, or ``None`` for a duplicate (told now or when the running
            original finishes)."""
            if (job.arch.digest, job.rung) in self.by_digest:
                self._learn(job, self._record_duplicate(index, index, job).reward)
                return None
            return self._job(index, job) if running.start(index, job) else None

        for index, document, rung in self.resumed_running:
            job = Job(Arch.from_dict(document), rung)
            if index in self.trials:  # finished; the search was killed before saving what it learnt
                self._learn(job, self.trials[index].reward)
            elif (evaluation := admit(index, job)) is not None:
                restart.append(evaluation)

        def next_job() -> EvalJob | None:
            nonlocal next_index
            while not restart:
                may_start = not self.searcher.finished() and \
                    self._consecutive_duplicates() < MAX_CONSECUTIVE_DUPLICATES
                if (job := self.schedule.next_job(self.searcher, may_start)) is None:
                    return None
                index, next_index = next_index, next_index + 1
                if (evaluation := admit(index, job)) is not None:
                    restart.append(evaluation)
                save()
            return restart.popleft()

        def on_outcome(outcome: EvalOutcome) -> None:
            job, duplicates = running.finish(outcome.trial)
            self._on_outcome(outcome, outcome.trial, job)
            self._learn(job, self.trials[outcome.trial].reward)
            for index in duplicates:
                self._learn(job, self._record_duplicate(index, index, job).reward)
            save()

        executor.run_stream(next_job, on_outcome)
        save()
        if self.schedule.exhausted(self.fitted):
            return "budget reached"
        if self.searcher.finished():
            return "searcher finished"
        return "searcher converged (it proposed only architectures already evaluated)"

    def _learn(self, job: Job, reward: float | None) -> None:
        """Tell the searcher and the schedule one result (asynchronous schedules)."""
        self.searcher.tell_round([(job.arch, reward, job.rung)])
        self.schedule.completed([job], [reward])

    def run(self) -> SearchSummary:
        """Search until the budget is spent, the searcher is finished or only duplicates come (the run's lock is
        released however it ends)."""
        try:
            round_, proposed, pending = self._load_progress()
            settings = self.settings
            executor = registry.get("executors", settings.executor)(
                workers=settings.workers, trial_timeout=settings.trial_timeout, **settings.executor_options)
            executor.on_progress = self.on_step
            if self.baseline is not None:
                self.run_dir.save_baseline(self.baseline)
            self.arch_baseline = self._arch_baseline()
        except BaseException:
            self.run_dir.unlock()
            raise
        self.info.emit("run_started")
        try:
            with executor:
                if self.schedule.asynchronous:
                    reason = self._stream(executor, proposed)
                else:
                    reason = self._rounds(executor, round_, proposed, pending)
            summary = self.summary(reason)
            self.info.emit("search_finished", summary=summary)
            return summary
        finally:
            self.info.emit("run_finished")
            self.run_dir.unlock()

    def summary(self, reason: str) -> SearchSummary:
        trials = list(self.trials.values())
        best = self._leader()
        return SearchSummary(
            run_dir=self.run_dir.path, searcher=self.settings.searcher, space=self.settings.space,
            task=self.task.describe(), trials=len(trials), evaluated=self.evaluated,
            failed=sum(t.status == FAILED for t in trials), duplicates=sum(t.status == DUPLICATE for t in trials),
            best_reward=best.reward if best else None, best_trial=best.index if best else None,
            best_arch=self._best_arch() if best else None, seconds=round(self.elapsed, 3), reason=reason,
            best_output=self.best_output, best_rung=best.rung if best else 0, rungs=len(self.ladder),
            baseline=self.baseline, arch_baseline=self.arch_baseline,
        )

    def _arch_baseline(self) -> Baseline | None:
        """``--baseline-arch`` fitted once at the deployment fidelity like a candidate, in this process; recorded,
        so a resumed search does not fit it again. A failed fit is a warning: the search goes on without it."""
        spec = self.settings.baseline_arch
        if spec is None:
            return None
        recorded = self.run_dir.load_baseline(ARCH_BASELINE)
        if recorded is not None:
            return recorded
        arch = resolve_arch(spec)
        outcome = evaluate(self._job(-1, Job(arch, self.top)))
        baseline = arch_baseline(arch.name or Path(spec).stem, outcome)
        if baseline is None:
            warnings.warn(f"--baseline-arch {spec}: its fit failed ({outcome.error}); the search has no "
                          f"architecture baseline", stacklevel=2)
            return None
        self.run_dir.save_baseline(baseline, ARCH_BASELINE)
        return baseline


class RunningJobs:
    """The jobs an asynchronous schedule has running, by trial index, and the proposals that repeat one of them
    (duplicates waiting for its reward)."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.index_of: dict[tuple[str, int], int] = {}
        self.waiting: dict[int, list[int]] = {}

    def start(self, index: int, job: Job) -> bool:
        """Record ``job`` as running under ``index``; ``False`` (a duplicate, now waiting) if it already runs."""
        key = (job.arch.digest, job.rung)
        if key in self.index_of:
            self.waiting[self.index_of[key]].append(index)
            return False
        self.jobs[index], self.index_of[key], self.waiting[index] = job, index, []
        return True

    def finish(self, index: int) -> tuple[Job, list[int]]:
        """The finished job and the indices of the duplicates that waited for it."""
        job = self.jobs.pop(index)
        del self.index_of[(job.arch.digest, job.rung)]
        return job, self.waiting.pop(index)

    def to_list(self) -> list[list[Any]]:
        """``[index, arch, rung]`` of every running job and waiting duplicate, by index (for the saved state)."""
        entries = [*self.jobs.items(),
                   *((waiter, self.jobs[index]) for index, waiters in self.waiting.items() for waiter in waiters)]
        return [[index, job.arch.to_dict(), job.rung] for index, job in sorted(entries, key=lambda entry: entry[0])]


#: The search images for each crop of the ladder (keyed by :func:`crop_key`).
ProblemSets = dict[str, list[Problem]]


def crop_key(crop: int | None) -> str:
    return "full" if crop is None else str(crop)


def search_problems(settings: SearchSettings, images: Path | None) -> ProblemSets:
    """The search images at each crop of the ladder: degraded crops of the built-in photo or of ``images``
    (clean), or ``images`` as they are (``settings.observed``: already degraded, no clean versions)."""
    task = settings.make_task()
    if settings.observed and images is None:
        raise UsageError("--observed needs --images DIR (a folder of degraded images)")
    sets: ProblemSets = {}
    for crop in dict.fromkeys(rung.crop for rung in settings.rungs):
        if settings.observed:
            sets[crop_key(crop)] = observed_set(task, images, crop)
            continue
        cleans = builtin_regions(crop or DEFAULT_FIDELITY.crop) if images is None else folder_images(images, crop)
        sets[crop_key(crop)] = degrade_set(task, cleans, settings.seed)
    return sets


def start_search(settings: SearchSettings, run_dir: Path, images: Path | None,
                 on_trial: Callable[[Trial], None] | None = None, problems: ProblemSets | None = None,
                 driver: type[SearchDriver] | None = None) -> SearchDriver:
    """A driver (of class ``driver``, default :class:`SearchDriver`) for a new search and its run directory, on
    ``problems`` (default: those of ``images``, :func:`search_problems`); nothing is written unless every setting
    is valid."""
    settings.validate()
    problems = search_problems(settings, images) if problems is None else problems
    reward, task = registry.get("rewards", settings.reward), settings.make_task()
    for problem in (problem for problem_set in problems.values() for problem in problem_set):
        named(problem.name, fit_problems, reward, task, [problem])  # a self-validation reward refuses it now
    directory = RunDirectory(run_dir)
    directory.check_new()
    driver = (driver or SearchDriver)(settings, directory, problems, on_trial)
    directory.lock()
    directory.check_new()  # again, now that the run is ours
    # The problems first: config.json marks a run, so a run that has one can always resume.
    directory.save_problems({key: [p.to_dict() for p in problem_set] for key, problem_set in problems.items()})
    directory.create(settings.to_dict())
    return driver


def resume_search(run_dir: Path, on_trial: Callable[[Trial], None] | None = None,
                  budget: int | None = None) -> SearchDriver:
    """A driver continuing the search in ``run_dir`` (optionally with a larger budget)."""
    directory = RunDirectory.open(run_dir)
    directory.lock()
    settings = recorded_settings(directory)
    if budget is not None and budget != settings.budget:
        settings.budget = budget
    stored = directory.load_problems()
    if stored is None:  # never written (a kill or a full disk at the start) or damaged: the recorded seed rebuilds it
        problems = search_problems(settings, None if settings.images == "builtin" else Path(settings.images))
        directory.save_problems({key: [p.to_dict() for p in problem_set] for key, problem_set in problems.items()})
        return SearchDriver(settings, directory, problems, on_trial)
    if isinstance(stored, list):  # written before fidelity ladders: one crop
        stored = {crop_key(settings.fidelity.crop): stored}
    problems = {key: [Problem.from_dict(p) for p in problem_set] for key, problem_set in stored.items()}
    return SearchDriver(settings, directory, problems, on_trial)


def recorded_settings(directory: RunDirectory) -> SearchSettings:
    """The settings in a run's ``config.json``; one line naming the file when they cannot be rebuilt."""
    try:
        return SearchSettings.from_dict(directory.config)
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise NasdipError(f"{directory.path / 'config.json'}: not a search configuration nasdip can resume "
                          f"({type(error).__name__}: {error})") from None
