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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from nasdip import __version__, registry
from nasdip.arch import Arch
from nasdip.errors import NasdipError
from nasdip.events import RunInfo
from nasdip.fit import FitSettings
from nasdip.nn.config import NetConfig
from nasdip.plugin_manager import notify
from nasdip.search.evaluate import EvalJob, EvalOutcome, Fidelity, problem_from_dict, problem_to_dict
from nasdip.search.records import DUPLICATE, FAILED, OK, SearchSummary, Trial
from nasdip.search.rundir import RunDirectory
from nasdip.searcher import SearchContext, Searcher
from nasdip.task import Problem, Task

#: A search stops after this many consecutive duplicate proposals (a converged searcher).
MAX_CONSECUTIVE_DUPLICATES = 100


@dataclass
class SearchSettings:
    """Everything that defines a search (stored as the run directory's ``config.json``)."""

    searcher: str
    task: str
    space: str = "nasdip"
    task_values: dict[str, Any] = field(default_factory=dict)
    searcher_options: dict[str, Any] = field(default_factory=dict)
    reward: str = "psnr"
    budget: int = 10
    batch: int = 4
    fidelity: Fidelity = field(default_factory=lambda: Fidelity(iters=200, crop=64, width=16))
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    executor: str = "serial"
    executor_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    trial_timeout: float | None = None
    images: str = "builtin"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fidelity"] = self.fidelity.to_dict()
        data["nasdip_version"] = __version__
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        values = {key: value for key, value in data.items() if key != "nasdip_version"}
        values["fidelity"] = Fidelity(**values["fidelity"])
        return cls(**values)

    def make_task(self) -> Task:
        return registry.get("tasks", self.task)(**self.task_values)

    def fit_settings(self, task: Task) -> FitSettings:
        """The per-candidate fitting settings: the task's defaults at the search's fidelity."""
        iters = self.fidelity.iters
        return task.settings().replace(iters=iters, lr=self.lr, seed=self.seed, device=self.device,
                                       precision=self.precision, sync_every=min(25, iters))

    def net_config(self) -> NetConfig:
        return NetConfig(width=self.fidelity.width)


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
        self.context = SearchContext(task=self.task, problems=self.problems, settings=self.fit_settings,
                                     config=self.config, log=self._log_searcher)
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

    def run(self) -> SearchSummary:
        """Search until the budget is spent, the searcher is finished or only duplicates come."""
        settings = self.settings
        for trial in self.run_dir.trials():
            self._remember(trial)
            if trial.status == OK and (self.best is None or trial.reward > self.best.reward):
                self.best = trial
        state = self.run_dir.load_state() or {"round": 0, "proposed": 0, "elapsed": 0.0, "searcher": None}
        round_, proposed = state["round"], state["proposed"]
        self.elapsed_before = state["elapsed"]
        if state["searcher"] is not None:
            self.searcher.load_state_dict(state["searcher"])
        pending = self.run_dir.load_pending()
        if pending is not None and pending["round"] != round_:
            pending = None  # a round whose state was saved before its pending file could be removed
        if self.trials:  # resuming: rewrite the log without a line torn by the interruption
            self.run_dir.repair_trials(sorted(self.trials.values(), key=lambda trial: trial.index))
        executor = registry.get("executors", settings.executor)(
            workers=settings.workers, trial_timeout=settings.trial_timeout, **settings.executor_options)
        notify("run_started", run=self.info)
        reason = "budget reached"
        try:
            with executor:
                if pending is not None:
                    self.searcher.load_state_dict(pending["searcher"])
                    proposals = [Arch.from_dict(document) for document in pending["proposals"]]
                    self._play_round(round_, proposed, proposals, executor)
                    round_, proposed = round_ + 1, proposed + len(proposals)
                    self._save_round(round_, proposed)
                while True:
                    remaining = settings.budget - self.evaluated
                    if remaining <= 0:
                        break
                    if self.searcher.finished():
                        reason = "searcher finished"
                        break
                    if self._consecutive_duplicates() >= MAX_CONSECUTIVE_DUPLICATES:
                        reason = "searcher converged (it proposed only architectures already evaluated)"
                        break
                    proposals = self.searcher.ask_batch(min(settings.batch, remaining))
                    self.run_dir.save_pending({"round": round_, "proposals": [a.to_dict() for a in proposals],
                                               "searcher": self.searcher.state_dict()})
                    self._play_round(round_, proposed, proposals, executor)
                    round_, proposed = round_ + 1, proposed + len(proposals)
                    self._save_round(round_, proposed)
            summary = self.summary(reason)
            notify("search_finished", run=self.info, summary=summary)
            return summary
        finally:
            notify("run_finished", run=self.info)

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


def search_problems(task: Task, images: Path | None, crop: int | None, seed: int) -> list[Problem]:
    """The degraded search images: crops of the built-in photo by default, else every image in ``images``."""
    from nasdip.benchmark import list_images
    from nasdip.imageio import builtin_photo, load_image
    from nasdip.restoration import crop_square, generator

    side = crop or 64
    if images is None:
        photo = builtin_photo()[0]
        cleans = [("builtin-face", photo[..., 150 : 150 + side, 190 : 190 + side]),
                  ("builtin-jacket", photo[..., 430 : 430 + side, 120 : 120 + side])]
    else:
        cleans = [(path.stem, crop_square(load_image(path)[0], crop)) for path in list_images(images)]
    problems = []
    for index, (name, clean) in enumerate(cleans):
        problems.append(task.degrade(task.prepare_clean(clean), generator(seed + 1000 * index), name=name))
    return problems


def start_search(settings: SearchSettings, run_dir: Path, images: Path | None,
                 on_trial: Callable[[Trial], None] | None = None) -> SearchDriver:
    """Create a run directory and a driver for a new search."""
    for kind, name in (("searchers", settings.searcher), ("spaces", settings.space), ("tasks", settings.task),
                       ("rewards", settings.reward), ("executors", settings.executor)):
        registry.get(kind, name)
    task = settings.make_task()
    problems = search_problems(task, images, settings.fidelity.crop, settings.seed)
    directory = RunDirectory.create(run_dir, settings.to_dict())
    directory.save_problems([problem_to_dict(problem) for problem in problems])
    return SearchDriver(settings, directory, problems, on_trial)


def resume_search(run_dir: Path, on_trial: Callable[[Trial], None] | None = None,
                  budget: int | None = None) -> SearchDriver:
    """A driver continuing the search in ``run_dir`` (optionally with a larger budget)."""
    directory = RunDirectory.open(run_dir)
    settings = SearchSettings.from_dict(directory.config)
    if budget is not None and budget != settings.budget:
        settings.budget = budget
    stored = directory.load_problems()
    if stored is None:
        raise NasdipError(f"{run_dir}: the run has no problems.pt; it cannot be resumed")
    return SearchDriver(settings, directory, [problem_from_dict(p) for p in stored], on_trial)
