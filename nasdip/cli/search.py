"""``nasdip search``: search an architecture, recording everything in a resumable run directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from nasdip import registry
from nasdip.cli.options import (
    RegistryName,
    build_command,
    check_output_dirs,
    plugin_options,
    pop_plugin_values,
    pop_task_values,
    stop_options,
    stop_values,
    task_options,
)
from nasdip.fit.settings import PRECISIONS
from nasdip.options import LEARNING_RATE, SEED, FiniteFloat
from nasdip.search.schedule import SCHEDULES
from nasdip.search.settings import DEFAULT_BUDGET, DEFAULT_FIDELITY


def parse_key_values(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, booleans), else as strings."""
    from nasdip.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} expects key=value, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run_search(searcher: str | None, task_name: str | None, resume: bool, run_dir: Path | None, as_json: bool,
               quiet: bool, budget: int | None, **options: Any) -> None:
    """Search an architecture for a task; the best one is written as RUN_DIR/best.json.

    Candidates are fitted on the search images (default: crops of the built-in photo) at the given fidelity
    (--iters, --crop, --width) and rewarded by --reward. --resume continues an interrupted run.
    """
    from nasdip.errors import UsageError
    from nasdip.search.driver import resume_search, start_search

    if resume:
        if run_dir is None:
            raise UsageError("--resume needs --run-dir (the run to continue)")
        from nasdip.search.rundir import RunDirectory

        RunDirectory.open(run_dir)  # "not a search run directory" before anything else
        refuse_changes_on_resume()
    elif searcher is None or task_name is None:
        raise UsageError(f"{'--searcher' if searcher is None else '--task'} is required (unless --resume)")
    run_dir = run_dir or Path("runs") / f"{searcher}-{task_name}-seed{options['seed']}"
    check_output_dirs(run_dir=run_dir)
    bar = TrialProgress(budget, searcher, quiet)
    with remembered_interrupt(bar.on_trial, f"continue with: nasdip search --resume --run-dir {run_dir}") as on_trial:
        if resume:
            driver = resume_search(run_dir, on_trial, budget)
        else:
            settings = settings_from_options(searcher, task_name, budget, options)
            driver = start_search(settings, run_dir, options["images"], on_trial)
        bar.start(driver.settings.budget if driver.settings.schedule == "none" else None, driver.evaluated)
        try:
            summary = driver.run()
        except KeyboardInterrupt:
            bar.close()
            click.echo(f"interrupted after {len(driver.trials)} trials; continue with: "
                       f"nasdip search --resume --run-dir {run_dir}", err=True)
            sys.exit(130)
        finally:
            bar.close()
    print_summary(summary, driver, run_dir, as_json)


#: Seconds a search may take to stop after Ctrl-C before it leaves at once (a second Ctrl-C leaves at once too).
INTERRUPT_GRACE = 20.0


def leave_now(hint: str) -> None:
    """Kill this process's worker processes and exit with 130. Nothing is lost: every finished trial is on disk
    and the search state is replaced atomically; the trials that were running run again on ``--resume``."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    sys.stderr.write(f"interrupted; {hint}\n")
    sys.stderr.flush()
    os._exit(130)


@contextlib.contextmanager
def remembered_interrupt(on_trial: Callable, hint: str) -> Iterator[Callable]:
    """A trial callback that raises :class:`KeyboardInterrupt` after the trial in progress is recorded if Ctrl-C
    came: Python drops a KeyboardInterrupt that lands in a finaliser or a callback whose errors it ignores, and a
    search must still stop. One that lands inside a lock (a logging thread's queue, say) can leave the clean-up
    waiting forever: if the search is still inside this block :data:`INTERRUPT_GRACE` seconds after Ctrl-C, or on
    a second Ctrl-C, the process leaves at once (:func:`leave_now`, printing ``hint``)."""
    interrupted = threading.Event()
    deadline = threading.Timer(INTERRUPT_GRACE, leave_now, args=(hint,))
    deadline.daemon = True

    def handler(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            leave_now(hint)
        interrupted.set()
        deadline.start()
        signal.default_int_handler(signum, frame)

    def checked(trial: Any) -> None:
        on_trial(trial)
        if interrupted.is_set():
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield on_trial
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield checked
    finally:
        deadline.cancel()
        signal.signal(signal.SIGINT, previous)


#: Steps at the cheapest and the top rung of a ladder when --min-iters/--max-iters are not given. Not below 300:
#: on the denoising fidelity study (benchmarks/fidelity.py) 100-step fits ranked architectures against their
#: quality at the deployment fidelity (Kendall's tau -0.28), 300-step fits with it (0.35-0.58).
DEFAULT_LADDER = (300, 2700)


class IntList(click.ParamType):
    """Comma-separated positive integers, e.g. ``64,96,128``."""

    name = "N,N,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            numbers = tuple(int(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
        if any(number < 1 for number in numbers):
            self.fail(f"{value!r}: every value must be at least 1", param, ctx)
        return numbers


#: What ``--resume`` may be given besides ``--run-dir``: a larger budget and how to show progress.
RESUMABLE = ("resume", "run_dir", "budget", "quiet", "as_json")


def refuse_changes_on_resume() -> None:
    """A resumed search continues exactly as recorded: any other option given is a usage error naming it."""
    from click.core import ParameterSource

    from nasdip.errors import UsageError

    context = click.get_current_context()
    for parameter in context.command.params:
        if parameter.name in RESUMABLE:
            continue
        if context.get_parameter_source(parameter.name) not in (ParameterSource.DEFAULT, None):
            raise UsageError(f"{parameter.opts[0]} cannot be changed on --resume: the run continues with the settings "
                             f"recorded in its config.json (only --budget can grow)")


def settings_from_options(searcher: str, task_name: str, budget: int | None, options: dict[str, Any]):
    """The :class:`SearchSettings` of a new search from the command's options (task and executor options
    are popped from ``options`` and checked against the chosen plugins)."""
    from nasdip.search.jobs import Fidelity
    from nasdip.search.settings import DEFAULT_BUDGET, SearchSettings

    executor = options["executor"] or registry.default_name("executors")
    task_values = pop_task_values(task_name, options)
    executor_values = pop_plugin_values("executors", executor, options)
    images = options["images"]
    return SearchSettings(
        searcher=searcher, task=task_name, space=options["space"] or "", task_values=task_values,
        searcher_options=parse_key_values(options["searcher_option"], "--searcher-option"),
        reward=options["reward"] or "",
        budget=budget or DEFAULT_BUDGET, batch=options["batch"],
        fidelity=Fidelity(iters=options["iters"], crop=options["crop"], width=options["width"]), lr=options["lr"],
        seed=options["seed"], device=options["device"], precision=options["precision"], executor=executor,
        executor_options=executor_values, workers=options["workers"], trial_timeout=options["trial_timeout"],
        images=str(images) if images else "builtin", observed=options["observed"], stopping=stop_values(options),
        schedule=options["schedule"], eta=options["eta"], ladder=ladder_from_options(options),
    )


def ladder_from_options(options: dict[str, Any]) -> list:
    """The fidelity ladder of ``--schedule`` (empty without one: the single fidelity of --iters/--crop/--width)."""
    from nasdip.errors import UsageError
    from nasdip.search.schedule import build_ladder, geometric_iters

    given = [flag for flag, key in (("--min-iters", "min_iters"), ("--max-iters", "max_iters"),
                                    ("--ladder-crops", "ladder_crops"), ("--ladder-widths", "ladder_widths"))
             if options[key] not in (None, ())]
    if options["schedule"] == "none":
        if given:
            raise UsageError(f"{given[0]} needs a multi-fidelity --schedule (halving, hyperband, asha or asha-async)")
        return []
    iters = geometric_iters(options["min_iters"] or DEFAULT_LADDER[0], options["max_iters"] or DEFAULT_LADDER[1],
                            options["eta"])
    return build_ladder(iters, options["ladder_crops"] or (options["crop"],),
                        options["ladder_widths"] or (options["width"],))


class TrialProgress:
    """A progress bar over evaluations, with the best and last reward."""

    def __init__(self, budget: int | None, searcher: str | None, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=budget, desc=f"search {searcher or ''}".strip(), unit="trial", file=sys.stderr,
                        disable=True if quiet else None, dynamic_ncols=True)

    def start(self, total: int | None, done: int) -> None:
        self.bar.total = total
        self.bar.update(done)

    def on_trial(self, trial) -> None:
        from nasdip.search.records import DUPLICATE, OK

        if trial.status != DUPLICATE:
            self.bar.update(1)
        best = "-" if trial.best_reward is None else f"{trial.best_reward:.3f}"
        last = f"{trial.reward:.3f}" if trial.status == OK else trial.status
        self.bar.set_postfix({"best": best, "last": last}, refresh=False)

    def close(self) -> None:
        self.bar.close()


def print_summary(summary, driver, run_dir: Path, as_json: bool) -> None:
    """The search's outcome: totals, the best reward and architecture, where best.json is."""
    from nasdip.arch.catalog import space_of

    failed = summary.best_arch is None and summary.evaluated > 0
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    else:
        click.echo(f"{summary.searcher} on {summary.space} for {summary.task}: {summary.trials} trials "
                   f"({summary.evaluated} evaluated, {summary.failed} failed, {summary.duplicates} duplicates) "
                   f"in {summary.seconds:.0f} s; stopped: {summary.reason}")
    if failed:
        raise click.ClickException(f"every candidate failed ({summary.failed} evaluations); the errors are in "
                                   f"{run_dir / 'trials.jsonl'}")
    if summary.best_arch is None or as_json:
        return
    click.echo(f"  best reward {summary.best_reward:.3f} ({driver.settings.reward}) at trial {summary.best_trial}")
    for line in space_of(summary.best_arch).describe(summary.best_arch):
        click.echo(f"  {line}")
    click.echo(f"  wrote {run_dir / 'best.json'} (use it with: nasdip restore --arch {run_dir / 'best.json'})")


def schedule_options() -> list:
    """``--schedule --eta --min-iters --max-iters --ladder-crops --ladder-widths``."""
    return [
        click.option("--schedule", type=click.Choice(SCHEDULES), default="none", show_default=True,
                     help="Multi-fidelity schedule over a ladder of fidelities (steps from --min-iters to --max-iters "
                          "by factors of --eta; --ladder-crops/--ladder-widths per rung)."),
        click.option("--eta", type=click.IntRange(2), default=3, show_default=True,
                     help="Promotion factor: the best 1/eta of a rung go up."),
        click.option("--min-iters", type=click.IntRange(1), default=None,
                     help=f"Steps at the cheapest rung (default {DEFAULT_LADDER[0]})."),
        click.option("--max-iters", type=click.IntRange(1), default=None,
                     help=f"Steps at the top rung, the deployment fidelity (default {DEFAULT_LADDER[1]})."),
        click.option("--ladder-crops", type=IntList(), default=None,
                     help="Crop side per rung, comma-separated (default: --crop at every rung)."),
        click.option("--ladder-widths", type=IntList(), default=None,
                     help="Network width per rung, comma-separated (default: --width at every rung)."),
    ]


def fidelity_options() -> list:
    """``--iters --crop --width --lr``: how each candidate is fitted without a schedule."""
    return [
        click.option("--iters", type=click.IntRange(1), default=DEFAULT_FIDELITY.iters, show_default=True,
                     help="Fitting steps per candidate."),
        click.option("--crop", type=click.IntRange(8), default=DEFAULT_FIDELITY.crop, show_default=True,
                     help="Side of the search crops."),
        click.option("--width", type=click.IntRange(4), default=DEFAULT_FIDELITY.width, show_default=True,
                     help="Network width of candidates."),
        click.option("--lr", type=LEARNING_RATE, default=None, help="Adam learning rate."),
    ]


def search_command() -> click.Command:
    """The ``search`` command, with the options of every registered task."""
    path = click.Path(path_type=Path, file_okay=False)
    return build_command("search", run_search, [
        click.option("--searcher", type=RegistryName("searchers"), default=None,
                     help="Search strategy (required unless --resume)."),
        click.option("--task", "task_name", type=RegistryName("tasks"), default=None,
                     help="Restoration task (required unless --resume)."),
        task_options,
        click.option("--space", type=RegistryName("spaces"), default=None,
                     help=f"Search space (default: {registry.default_name('spaces')})."),
        click.option("--images", type=path, default=None,
                     help="Directory of clean search images (default: two crops of the built-in photo)."),
        click.option("--observed", is_flag=True,
                     help="--images holds degraded images (no clean versions): candidates are rewarded "
                          "without ground truth (default reward: holdout)."),
        click.option("--budget", type=click.IntRange(1), default=None,
                     help=f"Candidate evaluations (default {DEFAULT_BUDGET}); with a --schedule, candidates started."),
        *schedule_options(),
        click.option("--batch", type=click.IntRange(1), default=4, show_default=True,
                     help="Candidates proposed per round (evaluated concurrently by parallel executors)."),
        *fidelity_options(),
        stop_options,
        click.option("--reward", type=RegistryName("rewards"), default=None,
                     help=f"Reward (default: {registry.default_name('rewards')})."),
        click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the searcher and every fit."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."),
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                     help="auto: bf16 where the device computes it natively."),
        click.option("--executor", type=RegistryName("executors"), default=None,
                     help=f"Where candidates are evaluated (default: {registry.default_name('executors')})."),
        plugin_options("executors"),
        click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Parallel evaluations."),
        click.option("--trial-timeout", type=FiniteFloat(min=0, min_open=True), default=None,
                     help="Seconds after which a candidate's evaluation is abandoned as failed."),
        click.option("--searcher-option", multiple=True, metavar="KEY=VALUE", help="Searcher setting (repeatable)."),
        click.option("--run-dir", type=path, default=None,
                     help="Run directory (default: runs/<searcher>-<task>-seed<seed>)."),
        click.option("--resume", is_flag=True, help="Continue the search in --run-dir (only --budget may change)."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ])
