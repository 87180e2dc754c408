"""``restore --arch auto``: choose the architecture for the user's observation (:mod:`nasdip.search.auto`), restore
with it, and write it as an architecture document beside the restoration."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nasdip.cli.restore import restore_with_progress
from nasdip.errors import UsageError

if TYPE_CHECKING:
    from nasdip.search.auto import AutoPlan

#: The value of ``--arch`` that chooses the architecture.
AUTO = "auto"
#: The ``restore`` options that tune the choice, by parameter name (flag, default); given only with ``--arch auto``.
AUTO_OPTIONS = {"auto_candidates": "--auto-candidates", "auto_budget": "--auto-budget", "auto_score": "--auto-score",
                "auto_reward": "--auto-reward", "auto_workers": "--auto-workers", "auto_include": "--auto-include"}
#: The value of ``--auto-include`` that includes no known architecture.
INCLUDE_NONE = "none"


def check_combinations(arch: str | None, seeds: int, tile: int | None, values: dict[str, Any]) -> None:
    """One-line usage errors for what cannot go with ``--arch auto`` (``--seeds``, ``--tile``), or for its options
    without it."""
    if arch != AUTO:
        given = [flag for name, flag in AUTO_OPTIONS.items() if values.get(name) is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} {'tunes' if len(given) == 1 else 'tune'} --arch auto only; add "
                             f"--arch auto or leave {'it' if len(given) == 1 else 'them'} out")
        return
    if seeds > 1:
        raise UsageError("--arch auto chooses the architecture of one fit and cannot average --seeds; choose first, "
                         "then restore with --arch OUT/IMAGE_TASK_arch.json --seeds K")
    if tile is not None:
        raise UsageError("--arch auto chooses on the whole image and cannot restore in tiles (--tile); choose on a "
                         "crop, then restore with --arch OUT/IMAGE_TASK_arch.json --tile S")


def unique_dir(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3`` ... the first that does not exist."""
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


@contextlib.contextmanager
def selection_dir(logdir: Path | None, name: str):
    """Where the choice's search runs: a new ``LOGDIR/<name>_auto`` (kept, with its TensorBoard logs) or a temporary
    folder removed afterwards."""
    if logdir is not None:
        yield unique_dir(logdir / f"{name}_auto")
        return
    with tempfile.TemporaryDirectory(prefix="nasdip-auto-") as folder:
        yield Path(folder) / "search"


def included_archs(task, auto_include: str | None) -> tuple[list, bool]:
    """The architectures ``--auto-include`` names (comma-separated presets or files; ``none``: no architecture),
    else the task's :attr:`nasdip.Task.auto_include`; and whether the user named them."""
    from nasdip.arch.catalog import resolve_arch
    from nasdip.errors import ArchError

    if auto_include is None:
        return [resolve_arch(name) for name in task.auto_include], False
    names = [name.strip() for name in auto_include.split(",")]
    if names == [INCLUDE_NONE]:
        return [], True
    if not all(names):
        raise UsageError(f"--auto-include {auto_include!r}: give presets or architecture files separated by commas, "
                         f"or {INCLUDE_NONE}")
    try:
        return [resolve_arch(name) for name in names], True
    except ArchError as error:
        raise UsageError(f"--auto-include: {error}") from error


def plan_choice(request, auto_candidates: int | None = None, auto_budget: float | None = None,
                auto_score: str | None = None, auto_workers: int | None = None, auto_include: str | None = None,
                auto_reward: str | None = None) -> tuple[str, AutoPlan, tuple]:
    """The no-reference reward, the plan of a choice on the request's observation and the architectures it
    includes unscored (defaults for the options not given; ``auto_workers``, taken with the other ``--auto-*``
    options, does not change them); one-line refusals, before any work, for a task without such a reward (or an
    ``auto_reward`` that is none), an unusable plan, score or inclusion, or an observation the reward cannot use."""
    from nasdip.search import auto
    from nasdip.search.ladder import check_score_rung

    reward = auto.no_reference_reward(request, auto_reward)
    plan = auto.plan_auto(auto.DEFAULT_CANDIDATES if auto_candidates is None else auto_candidates,
                          auto.DEFAULT_BUDGET if auto_budget is None else auto_budget, request.settings.iters,
                          auto.fit_ratio(request, reward))
    check_score_rung(plan.ladder(auto_score or auto.DEFAULT_SCORE, request.config.width))
    plan, include = auto.include_in(plan, *included_archs(request.task, auto_include))
    return reward, plan, include


def restore_auto(request, out_dir: Path, logdir: Path | None, quiet: bool, compare: tuple = (),
                 auto_candidates: int | None = None, auto_budget: float | None = None, auto_score: str | None = None,
                 auto_workers: int | None = None, auto_include: str | None = None, auto_reward: str | None = None,
                 as_json: bool = False) -> dict[str, Any]:
    """Choose the architecture on the request's observation (``request.arch`` is ignored; the selection's fits on
    ``auto_workers`` local processes), restore with it at the request's settings, write
    ``OUT/<image>_<task>_arch.json``; the restoration's report with ``auto`` (how it was chosen) and ``arch_file``."""
    from nasdip.arch.document import save_arch
    from nasdip.cli.progress import SearchProgress
    from nasdip.search import auto

    budget = auto.DEFAULT_BUDGET if auto_budget is None else auto_budget
    score = auto_score or auto.DEFAULT_SCORE
    reward, plan, include = plan_choice(request, auto_candidates, budget, score, auto_include=auto_include,
                                        auto_reward=auto_reward)
    problem, task = request.problem, request.task
    with selection_dir(logdir, problem.name) as run_dir:
        bar = SearchProgress(quiet)
        try:  # the bar counts what the choice plays: the search's top rung is the restoration, fitted below
            choice = auto.choose(request, plan, run_dir, reward, score, log=logdir is not None,
                                 on_trial=bar.on_trial, on_start=lambda driver: bar.start(driver, plan.evaluations),
                                 workers=auto_workers or 1, include=include)
        finally:
            bar.close()
    winner = choice.arch.replace(name=f"auto-{problem.name}")
    if not as_json:
        print_choice(choice, winner)
    report = restore_with_progress(request.replace(arch=winner), out_dir, logdir, None, quiet, 1, compare)
    height, width = problem.output_size
    cost = choice.cost(report["iters"] * height * width, request.settings.iters * height * width)
    winner = winner.replace(meta={"task": task.describe(), "image": problem.name,
                                  **auto.winner_meta(choice, cost, budget), "plain_fit_steps": request.settings.iters,
                                  "seed": request.settings.seed})
    path = save_arch(winner, out_dir / f"{problem.name}_{task.name}_arch.json")
    return {**report, "auto": winner.meta, "arch_file": str(path)}


def print_choice(choice, winner) -> None:
    """What was chosen and how: candidates scored, fitted per rung, the winner's last reward; its decisions."""
    from nasdip.arch.catalog import space_of

    plan = choice.plan
    rungs = [f"{count} at {steps} steps" for count, steps in zip(plan.fitted, plan.steps, strict=True)]
    if choice.included:
        rungs[0] += f" ({len(choice.included)} of them unscored: {', '.join(a.label for a in choice.included)})"
    how = f"then {' -> '.join(rungs)} fitted on the observation and ranked by {choice.reward}" if plan.steps else \
        "chosen by the score alone (the budget pays for no selection rung)"
    last = [trial for trial in choice.trials if trial.digest == winner.digest and trial.status == "ok"][-1]
    same = "".join(f", which is {arch.label}" for arch in choice.included if arch.digest == winner.digest)
    click.echo(f"auto: {plan.scored} candidates scored by {choice.score}, {how}; chose {winner.label}{same} "
               f"({'score' if last.rung == 0 else choice.reward} {last.reward:.3f})")
    for line in space_of(winner).describe(winner):
        click.echo(f"  {line}")


def print_cost(report: dict[str, Any]) -> None:
    """The choice's cost in plain fits and where the architecture document is."""
    meta = report["auto"]
    click.echo(f"  auto cost {meta['cost']:.2f} plain fits (fitting steps x pixels over one {meta['plain_fit_steps']}-step "
               f"fit's; planned {meta['planned_cost']:.2f}, budget {meta['budget']:g})")
    click.echo(f"  wrote {report['arch_file']}")
