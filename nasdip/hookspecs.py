"""Hook specifications: every extension point of nasdip, typed and documented.

A plugin is a module or object with functions decorated by ``@nasdip.hookimpl`` whose names match the
specifications below. Built-in parts register through these same hooks. External packages expose a plugin
through the entry-point group ``nasdip``::

    [options.entry_points]
    nasdip =
        myplugin = myplugin.module

Two kinds of hook exist:

* registration hooks (``register_*``) receive a ``register`` callback and call it once per thing they add;
* lifecycle hooks (``run_started`` ... ``run_finished``) are called by the core while runs progress; loggers
  implement them. They must be cheap and must not raise: a failing logger is reported, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    import torch

    from nasdip.arch.space import Space
    from nasdip.fit.result import FitResult
    from nasdip.fit.task import Task
    from nasdip.runinfo import RunInfo
    from nasdip.search.executor import Executor
    from nasdip.search.jobs import EvalOutcome
    from nasdip.search.records import SearchSummary, Trial
    from nasdip.search.reward import Reward
    from nasdip.search.searcher import Searcher

hookspec = pluggy.HookspecMarker("nasdip")


@hookspec
def register_spaces(register: Callable[[Space], None]) -> None:
    """Register search spaces.

    Call ``register(space)`` with a :class:`nasdip.Space` instance for each space. A space declares its
    decisions (name, choices, meaning), builds a network from an architecture document, and may ship named
    presets and a super-network for differentiable search.
    """


@hookspec
def register_searchers(register: Callable[[type[Searcher]], None]) -> None:
    """Register search strategies.

    Call ``register(cls)`` with a subclass of :class:`nasdip.Searcher` for each strategy. The class
    attribute ``name`` is the name users pass to ``nasdip search --searcher``.
    """


@hookspec
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register restoration tasks.

    Call ``register(cls)`` with a subclass of :class:`nasdip.Task` for each task. A task owns its
    degradation (forward operator), default fitting hyper-parameters, metrics and CLI options, and may declare
    the reward that ranks its candidates without a clean image (``no_reference_reward``, for ``restore --arch
    auto`` and ``search --observed``).
    """


@hookspec
def register_executors(register: Callable[[type[Executor]], None]) -> None:
    """Register candidate executors.

    Call ``register(cls)`` with a subclass of :class:`nasdip.Executor` for each executor. Executors
    evaluate candidate architectures for the search driver: serially, in local processes, on a cluster.
    """


@hookspec
def register_rewards(register: Callable[[Reward], None]) -> None:
    """Register reward functions for candidate evaluation.

    Call ``register(reward)`` with a :class:`nasdip.Reward` for each. A reward turns the restorations of
    a candidate on the search images (and their clean originals) into one number to maximise.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``nasdip`` command line.

    ``cli`` is the top-level click group: decorate functions with ``@cli.command()`` or call
    ``cli.add_command(...)``.
    """


@hookspec
def run_started(run: RunInfo) -> None:
    """A run (``restore``, ``bench``, ``search`` or a plugin's own) begins.

    ``run.logdir`` is where loggers write, or ``None`` when the user asked for no logs.
    """


@hookspec
def fit_progress(run: RunInfo, step: int, metrics: Mapping[str, float]) -> None:
    """A fitting (or training) step was measured.

    Called for every ``log_every``-th step of a fit (default 5) with host-side numbers such as ``loss`` and,
    when ground truth is known, the task's score (``psnr``). The engine reads them in batches at its
    synchronisation points (every ``sync_every`` steps), so the calls for a window arrive together. Also called
    for fits inside a search trial and for training runs (``nasdip translate``: the CycleGAN losses).
    """


@hookspec
def sample_images(run: RunInfo, step: int, images: Mapping[str, torch.Tensor]) -> None:
    """A run shows named images at a step (``nasdip translate``: real, translated and reconstructed samples).

    Each image is ``(1, C, H, W)`` in [0, 1] on the CPU.
    """


@hookspec
def fit_finished(run: RunInfo, result: FitResult) -> None:
    """A restoration finished; ``result`` holds the restored image, metrics and timings."""


@hookspec
def trial_finished(run: RunInfo, trial: Trial, evaluation: EvalOutcome | None) -> None:
    """A search trial finished (evaluated, failed or skipped as a duplicate); ``trial`` is its record.

    ``evaluation`` is what the evaluation returned beyond the record (``None`` for duplicates): the restorations
    of the search images (``outputs``) and the mean learning curves (``curves``: ``loss``, ``psnr``,
    ``holdout_psnr`` as ``(step, value)`` pairs).
    """


@hookspec
def searcher_progress(run: RunInfo, step: int, scalars: Mapping[str, float]) -> None:
    """A searcher reports internal numbers (controller entropy and baseline, mixture weights, ...).

    ``step`` is the searcher's own counter (controller updates, super-network steps).
    """


@hookspec
def search_finished(run: RunInfo, summary: SearchSummary) -> None:
    """A search finished its budget; ``summary`` holds the best architecture and the run's totals."""


@hookspec
def run_finished(run: RunInfo) -> None:
    """A run ends, normally or not: loggers flush and close their files here."""


#: What registration hooks register: kind -> how to name one member in messages. The hook of ``kind`` is
#: ``register_<kind>``.
REGISTRY_KINDS: dict[str, str] = {
    "spaces": "search space",
    "searchers": "searcher",
    "tasks": "task",
    "executors": "executor",
    "rewards": "reward",
}
#: Hook names grouped by purpose, for documentation checks and ``nasdip plugins``.
REGISTRATION_HOOKS: dict[str, str] = {f"register_{kind}": kind for kind in REGISTRY_KINDS}
LIFECYCLE_HOOKS = (
    "run_started",
    "fit_progress",
    "sample_images",
    "fit_finished",
    "trial_finished",
    "searcher_progress",
    "search_finished",
    "run_finished",
)
