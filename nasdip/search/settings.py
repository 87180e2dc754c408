"""What defines a search: searcher, space, task, reward, budget, fidelity, seeds, executor (``config.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nasdip import __version__, registry
from nasdip.arch.catalog import resolve_arch
from nasdip.arch.document import Arch
from nasdip.errors import UsageError
from nasdip.fit.device import resolve_device
from nasdip.fit.inputs import check_crop
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.nn.config import NetConfig
from nasdip.options import LEARNING_RATE, NETWORK_WIDTH, STEPS, checked, resolve_values
from nasdip.search.jobs import Fidelity
from nasdip.search.ladder import check_score_rung
from nasdip.search.schedule import make_schedule
from nasdip.search.screen import Screened

#: Candidate evaluations when ``--budget`` is not given.
DEFAULT_BUDGET = 10
#: How hard each candidate is fitted when the user does not say: cheap enough for a CPU.
DEFAULT_FIDELITY = Fidelity(iters=200, crop=64, width=16)


def no_reference_rewards() -> list[str]:
    """Registered rewards that need no clean images, in registration order (built-ins first)."""
    return [reward.name for _, reward in registry.registrations("rewards") if not reward.needs_clean]


def observed_reward(task: str) -> str:
    """The reward of a search on observed images that names none: the task's own no-reference reward
    (:attr:`nasdip.Task.no_reference_reward`) where it declares one, else the first registered one."""
    declared = registry.get("tasks", task).no_reference_reward if task in registry.names("tasks") else None
    return declared or no_reference_rewards()[0]


@dataclass
class SearchSettings:
    """Everything that defines a search (stored as the run directory's ``config.json``); an empty ``space``,
    ``reward`` or ``executor`` is the registered default. ``include``: architecture documents that skip a score
    rung (they are fitted first at the rung above it)."""

    searcher: str
    task: str
    space: str = ""
    task_values: dict[str, Any] = field(default_factory=dict)
    searcher_options: dict[str, Any] = field(default_factory=dict)
    reward: str = ""
    budget: int = DEFAULT_BUDGET
    batch: int = 4
    fidelity: Fidelity = DEFAULT_FIDELITY
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    executor: str = ""
    executor_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    trial_timeout: float | None = None
    images: str = "builtin"
    observed: bool = False
    stopping: dict[str, Any] = field(default_factory=dict)
    schedule: str = "none"
    eta: int = 3
    ladder: list[Fidelity] = field(default_factory=list)
    baseline_arch: str | None = None
    include: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # An empty name means the registered default (marked by its plugin); observed images need a
        # no-reference reward (the task's own).
        for kind, attribute in (("spaces", "space"), ("rewards", "reward"), ("executors", "executor")):
            if not getattr(self, attribute):
                default = observed_reward(self.task) if attribute == "reward" and self.observed else None
                setattr(self, attribute, default or registry.default_name(kind))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fidelity"] = self.fidelity.to_dict()
        data["ladder"] = [rung.to_dict() for rung in self.ladder]
        data["nasdip_version"] = __version__
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        values = {key: value for key, value in data.items() if key != "nasdip_version"}
        values["fidelity"] = Fidelity(**values["fidelity"])
        values["ladder"] = [Fidelity(**rung) for rung in values.get("ladder", [])]
        return cls(**values)

    @property
    def rungs(self) -> list[Fidelity]:
        """The fidelity ladder, cheapest first; the last rung is the deployment fidelity."""
        return list(self.ladder) or [self.fidelity]

    def make_schedule(self):
        """The schedule that plans this search's rounds (one-line errors for an unusable budget or ladder); a score
        rung wraps the schedule of the fitted rungs (:class:`nasdip.search.screen.Screened`)."""
        rungs = self.rungs
        check_score_rung(rungs)
        if rungs[0].score is None:
            if self.include:
                raise UsageError("included architectures skip a score rung, and this ladder has none; begin it "
                                 "with one (score:NAME) or include none")
            return make_schedule(self.schedule, len(rungs), self.budget, self.batch, self.eta)
        return Screened(make_schedule(self.schedule, len(rungs) - 1, self.budget, self.batch, self.eta), rungs[0].eta,
                        [Arch.from_dict(document) for document in self.include])

    def validate(self) -> None:
        """Every name registered, every plugin option and every number in its range, each rung's crop at least the
        task's minimum size and the device present (one-line errors), before anything is written: a search in
        which every candidate must fail does not start."""
        for kind, name in (("searchers", self.searcher), ("spaces", self.space), ("tasks", self.task),
                           ("rewards", self.reward), ("executors", self.executor)):
            registry.get(kind, name)
        self.make_task()
        searcher = registry.get("searchers", self.searcher)
        resolve_values(f"searcher {self.searcher!r}", searcher.options, self.searcher_options, as_flags=False)
        registry.get("executors", self.executor).check(self.trial_timeout, self.executor_options)
        reward = registry.get("rewards", self.reward)
        if self.observed and reward.needs_clean:
            raise UsageError(f"reward {self.reward!r} needs clean images; with --observed use a no-reference "
                             f"reward ({', '.join(no_reference_rewards())})")
        task = self.make_task()
        check_score_rung(self.rungs)
        self.check_fidelities(task)
        for rung in self.rungs:  # stopping settings against every rung's step cap
            self.fit_settings(task, rung)
        self.make_schedule()
        resolve_device(self.device)
        if self.baseline_arch is not None:
            resolve_arch(self.baseline_arch)

    def check_fidelities(self, task: Task) -> None:
        """Each rung's steps, width and crop within their ranges (the crop at least the task's minimum image side)
        and the learning rate in range, as usage errors naming the option (settings may come from Python or an
        edited ``config.json``, not only through the command line's types)."""
        ladder = bool(self.ladder)
        for rung in self.rungs:
            if rung.score is not None:  # fits nothing; its crop and width are the next rung's
                continue
            checked(STEPS, rung.iters, "--max-iters" if ladder else "--iters")
            checked(NETWORK_WIDTH, rung.width, "--ladder-widths" if ladder else "--width")
            check_crop(task, rung.crop, "--ladder-crops" if ladder else "--crop")
        if self.lr is not None:
            checked(LEARNING_RATE, self.lr, "--lr")

    def make_task(self) -> Task:
        return registry.get("tasks", self.task)(**self.task_values)

    def fit_settings(self, task: Task, fidelity: Fidelity | None = None) -> FitSettings:
        """The per-candidate fitting settings: the task's defaults at ``fidelity`` (default: the top rung; for the
        score rung, which fits nothing, the first fitted rung's: its seed and device)."""
        if fidelity is not None and fidelity.score is not None:
            fidelity = self.rungs[1]
        iters = (fidelity or self.rungs[-1]).iters
        settings = task.settings().replace(iters=iters, lr=self.lr, seed=self.seed, device=self.device,
                                           precision=self.precision, sync_every=min(25, iters))
        return settings.with_stopping(registry.get("rewards", self.reward).needs_holdout, **self.stopping)

    def net_config(self, fidelity: Fidelity | None = None) -> NetConfig:
        return NetConfig(width=(fidelity or self.rungs[-1]).width)
