"""``nasdip search``: search an architecture, recording everything in a resumable run directory."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from nasdip import registry
from nasdip.cli.options import (
    STOP_KEYS,
    RegistryName,
    build_command,
    check_output_dirs,
    declared_options,
    plugin_options,
    pop_plugin_values,
    pop_task_values,
    section,
    stop_options,
    stop_values,
    task_options,
)
from nasdip.cli.progress import SearchProgress
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.settings import PRECISIONS
from nasdip.options import LEARNING_RATE, NETWORK_WIDTH, SEED, STEPS, FiniteFloat
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

        recorded = RunDirectory.open(run_dir).config  # "not a search run directory" before anything else
        refuse_changes_on_resume(searcher, task_name, options, recorded)
    elif searcher is None or task_name is None:
        raise UsageError(f"{'--searcher' if searcher is None else '--task'} is required (unless --resume)")
    run_dir = run_dir or Path("runs") / f"{searcher}-{task_name}-seed{options['seed']}"
    check_output_dirs(run_dir=run_dir)
    bar = SearchProgress(quiet)
    with remembered_interrupt(bar.on_trial, f"continue with: nasdip search --resume --run-dir {run_dir}") as on_trial:
        if resume:
            driver = resume_search(run_dir, on_trial, budget)
        else:
            settings = settings_from_options(searcher, task_name, budget, options)
            driver = start_search(settings, run_dir, options["images"], on_trial)
        bar.start(driver)
        driver.on_step = bar.on_step
        try:
            summary = driver.run()
        except KeyboardInterrupt:
            bar.close()
            click.echo(f"interrupted after {len(driver.trials)} trials; continue with: "
                       f"nasdip search --resume --run-dir {run_dir}", err=True)
            # Nothing is left to save; should the interpreter's shutdown hang (a thread that never ends), leave anyway.
            safety = threading.Timer(INTERRUPT_GRACE, leave_now, args=("exiting", on_trial.exit_code))
            safety.daemon = True
            safety.start()
            sys.exit(on_trial.exit_code)
        finally:
            bar.close()
    bar.finish(summary)
    print_summary(summary, driver, run_dir, as_json)


#: Seconds a search may take to stop after Ctrl-C before it leaves at once (a second Ctrl-C leaves at once too).
INTERRUPT_GRACE = 20.0


#: Exit codes of a search stopped by a signal (the shell's convention: 128 + the signal's number).
SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def leave_now(hint: str, code: int = 130) -> None:
    """Kill this process's worker processes and exit with ``code``. Nothing is lost: every finished trial is on
    disk and the search state is replaced atomically; the trials that were running run again on ``--resume``."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    sys.stderr.write(f"interrupted; {hint}\n")
    sys.stderr.flush()
    os._exit(code)


class InterruptibleTrials:
    """A trial callback that raises :class:`KeyboardInterrupt` after the trial in progress is recorded once Ctrl-C
    (or SIGTERM) came; :attr:`exit_code` is the signal's exit code (130, 143)."""

    def __init__(self, on_trial: Callable, interrupted: threading.Event) -> None:
        self.on_trial, self.interrupted, self.exit_code = on_trial, interrupted, 130

    def __call__(self, trial: Any) -> None:
        self.on_trial(trial)
        if self.interrupted.is_set():
            raise KeyboardInterrupt


@contextlib.contextmanager
def remembered_interrupt(on_trial: Callable, hint: str) -> Iterator[InterruptibleTrials]:
    """The trial callback of :class:`InterruptibleTrials`, with Ctrl-C and SIGTERM turned into a clean stop:
    Python drops a KeyboardInterrupt that lands in a finaliser or a callback whose errors it ignores, and a search
    must still stop. One that lands inside a lock (a logging thread's queue, say) can leave the clean-up waiting
    forever: if the search is still inside this block :data:`INTERRUPT_GRACE` seconds after the signal, or on a
    second one, the process leaves at once (:func:`leave_now`, printing ``hint``)."""
    interrupted = threading.Event()
    trials = InterruptibleTrials(on_trial, interrupted)
    deadline = threading.Timer(INTERRUPT_GRACE, lambda: leave_now(hint, trials.exit_code))
    deadline.daemon = True

    def handler(signum: int, frame: Any) -> None:
        trials.exit_code = SIGNAL_EXIT_CODES.get(signum, 130)
        if interrupted.is_set():
            leave_now(hint, trials.exit_code)
        interrupted.set()
        deadline.start()
        signal.default_int_handler(signum, frame)

    if threading.current_thread() is not threading.main_thread():
        yield trials
        return
    previous = {number: signal.signal(number, handler) for number in SIGNAL_EXIT_CODES}
    try:
        yield trials
    finally:
        deadline.cancel()
        for number, before in previous.items():
            signal.signal(number, before)


#: Most candidates a search may evaluate (and propose per round).
MAX_BUDGET = 1_000_000
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


def refuse_changes_on_resume(searcher: str | None, task_name: str | None, options: dict[str, Any],
                             recorded: dict[str, Any]) -> None:
    """A resumed search continues exactly as recorded: an option given with the recorded value is accepted (the
    original command line with --resume added works); one that differs is a usage error naming both values."""
    from click.core import ParameterSource

    from nasdip.search.settings import SearchSettings

    context = click.get_current_context()
    given = {parameter.name: parameter for parameter in context.command.params if parameter.name not in RESUMABLE
             and context.get_parameter_source(parameter.name) not in (ParameterSource.DEFAULT, None)}
    if not given:
        return
    settings = SearchSettings.from_dict(recorded)
    base = recorded_options(settings)
    expected = comparable(settings)
    values = {**options, "searcher": searcher, "task_name": task_name}
    for name, parameter in given.items():
        trial = {**base, name: values[name]}
        if name == "ladder" and gives_fitted_rungs(values[name]):  # they replace --min-iters ...
            trial.update(dict.fromkeys(GEOMETRIC_LADDER.values()))
        try:
            same = comparable(settings_from_options(trial["searcher"], trial["task_name"], None, dict(trial))) == expected
        except NasdipError:
            same = False
        if not same:
            before = base.get(name)
            if before is None:  # a plugin option left at its default: show the default
                before = expected["task_values"].get(name, expected["executor_options"].get(name))
            raise UsageError(f"{parameter.opts[0]} cannot be changed on --resume: the run recorded {shown(before)}, "
                             f"the command gives {shown(values[name])}; leave it out or give the recorded value "
                             f"(only --budget can grow)")


def shown(value: Any) -> str:
    """An option's value as a user would type it (``none`` when unset)."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value)


def comparable(settings) -> dict[str, Any]:
    """What must not change on --resume: every setting but the budget and the recording nasdip's version, plugin
    options with their defaults filled in and stopping as the fits get it (``--sigma 25`` is the recorded
    default)."""
    from nasdip.options import resolve_values

    data = settings.to_dict()
    for key in ("budget", "nasdip_version"):
        data.pop(key, None)
    task = settings.make_task()
    data["task_values"] = dict(task.values)
    data["searcher_options"] = resolve_values("searcher", registry.get("searchers", settings.searcher).options,
                                              settings.searcher_options, as_flags=False)
    data["executor_options"] = registry.get("executors", settings.executor).check(settings.trial_timeout,
                                                                                 settings.executor_options)
    data["stopping"] = [settings.fit_settings(task, rung).to_dict() for rung in settings.rungs]
    return data


def recorded_options(settings) -> dict[str, Any]:
    """The command's option values that build ``settings`` (the recorded search), for comparison with new ones."""
    stopping = settings.stopping
    options: dict[str, Any] = {
        "searcher": settings.searcher, "task_name": settings.task, "space": settings.space, "reward": settings.reward,
        "batch": settings.batch, "iters": settings.fidelity.iters, "crop": settings.fidelity.crop,
        "width": settings.fidelity.width, "lr": settings.lr, "seed": settings.seed, "device": settings.device,
        "precision": settings.precision, "executor": settings.executor, "workers": settings.workers,
        "trial_timeout": settings.trial_timeout, "observed": settings.observed,
        "images": None if settings.images == "builtin" else Path(settings.images),
        "schedule": settings.schedule, "eta": settings.eta, "baseline_arch": settings.baseline_arch,
        "searcher_option": tuple(f"{key}={json.dumps(value)}" for key, value in settings.searcher_options.items()),
        **recorded_ladder(settings),
        **{key: stopping.get(key) for key in STOP_KEYS},
    }
    for kind, values in (("tasks", settings.task_values), ("executors", settings.executor_options)):
        for name in declared_options(kind):
            options[name] = values.get(name)
    return options


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
        baseline_arch=options["baseline_arch"],
    )


#: The options that build a geometric ladder, by flag.
GEOMETRIC_LADDER = {"--min-iters": "min_iters", "--max-iters": "max_iters", "--ladder-crops": "ladder_crops",
                    "--ladder-widths": "ladder_widths"}


def ladder_from_options(options: dict[str, Any]) -> list:
    """The fidelity ladder of ``--schedule`` (empty without one: the single fidelity of --iters/--crop/--width):
    ``--ladder``'s fitted rungs or the geometric ladder of --min-iters ..., after ``--ladder``'s score rung."""
    from nasdip.errors import UsageError
    from nasdip.search.jobs import Fidelity
    from nasdip.search.ladder import parse_ladder, with_score_rung
    from nasdip.search.schedule import build_ladder, geometric_iters

    score, fitted = parse_ladder(options["ladder"]) if options.get("ladder") else (None, [])
    given = [flag for flag, key in GEOMETRIC_LADDER.items() if options[key] not in (None, ())]
    if options["schedule"] == "none":
        if given:
            raise UsageError(f"{given[0]} needs a multi-fidelity --schedule (halving, hyperband, asha or asha-async)")
        if fitted:
            raise UsageError("--ladder with --schedule none takes a score rung only (score:NAME[:ETA]; the fitted "
                             "fidelity is --iters, --crop and --width); fitted rungs need a multi-fidelity --schedule")
        fidelity = Fidelity(options["iters"], options["crop"], options["width"])
        return with_score_rung(score, [fidelity]) if score else []
    if fitted and given:
        raise UsageError(f"--ladder gives the fitted rungs; leave out {given[0]}")
    if fitted:
        return with_score_rung(score, build_ladder(*zip(*[(f.iters, f.crop, f.width) for f in fitted], strict=True)))
    iters = geometric_iters(options["min_iters"] or DEFAULT_LADDER[0], options["max_iters"] or DEFAULT_LADDER[1],
                            options["eta"])
    return with_score_rung(score, build_ladder(iters, options["ladder_crops"] or (options["crop"],),
                                               options["ladder_widths"] or (options["width"],)))


def gives_fitted_rungs(spec: str | None) -> bool:
    """Whether a ``--ladder`` spec holds fitted rungs (not only a score rung)."""
    from nasdip.search.ladder import parse_ladder

    try:
        return bool(spec) and bool(parse_ladder(spec)[1])
    except NasdipError:
        return False


def recorded_ladder(settings) -> dict[str, Any]:
    """The ladder options that rebuild a recorded ladder: ``--ladder`` for its score rung, --min-iters ... for the
    fitted rungs where they rebuild them (else ``--ladder`` for those too)."""
    from nasdip.errors import UsageError
    from nasdip.search.ladder import format_ladder
    from nasdip.search.schedule import geometric_iters

    options: dict[str, Any] = {"ladder": None, **dict.fromkeys(GEOMETRIC_LADDER.values())}
    score = [rung for rung in settings.ladder if rung.score]
    fitted = [rung for rung in settings.ladder if not rung.score]
    if not fitted or settings.schedule == "none":
        return {**options, "ladder": format_ladder(score) or None}
    try:
        geometric = geometric_iters(fitted[0].iters, fitted[-1].iters, settings.eta) == [r.iters for r in fitted]
    except UsageError:
        geometric = False
    if not geometric:
        return {**options, "ladder": format_ladder(settings.ladder)}
    return {"ladder": format_ladder(score) or None, "min_iters": fitted[0].iters, "max_iters": fitted[-1].iters,
            "ladder_crops": tuple(rung.crop for rung in fitted), "ladder_widths": tuple(rung.width for rung in fitted)}


def print_summary(summary, driver, run_dir: Path, as_json: bool) -> None:
    """The search's outcome: totals, the best reward beside the observation's own, the best architecture, and the
    commands to use and inspect it; a warning when no candidate beat the observation itself."""
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
    if summary.best_arch is not None and not as_json:
        print_best(summary, driver, run_dir)
    if summary.below_baseline:
        sys.stdout.flush()
        click.echo(f"Warning: the best candidate ({summary.best_reward:.3f}) scored below the "
                   f"{summary.baseline.name} input itself ({summary.baseline.reward:.3f}): no candidate beat doing "
                   f"nothing; fit longer (--iters, or a --schedule ladder) or search other images", err=True)


def print_best(summary, driver, run_dir: Path) -> None:
    """The best reward beside the observation's own, the best architecture, where it is and what to run next."""
    from nasdip.arch.catalog import space_of

    reward = driver.reward
    unit = f" {reward.unit}" if reward.unit else ""
    beside = "".join(f"; {baseline.label(reward.unit)}" for baseline in (summary.baseline, summary.arch_baseline)
                     if baseline is not None)
    click.echo(f"  best reward {summary.best_reward:.3f}{unit} ({reward.name}) at trial {summary.best_trial}{beside}")
    for line in space_of(summary.best_arch).describe(summary.best_arch):
        click.echo(f"  {line}")
    click.echo(f"  wrote {run_dir / 'best.json'}")
    for line in next_commands(driver.settings, run_dir):
        click.echo(line)


#: TensorBoard's Time Series with every run of one search (``rl-sr/trials/0003``) in the search's colour and
#: best-so-far curves unsmoothed (the default smoothing turns their steps into ramps).
TENSORBOARD_URL = "http://localhost:6006/?runColorGroup=regex:%5E(%5B%5E%2F%5D%2B)&smoothing=0#timeseries"


def next_commands(settings, run_dir: Path) -> list[str]:
    """What to run next: restore with the found architecture (the built-in photo as printed; add IMAGE for yours),
    then look at the search."""
    task_flags = "".join(f" --{name.replace('_', '-')} {shlex.quote(str(value))}"
                         for name, value in settings.task_values.items())
    best = shlex.quote(str(run_dir / "best.json"))
    folder = shlex.quote(str(run_dir))
    return ["next:",
            f"  nasdip restore --task {settings.task}{task_flags} --arch {best}    # add IMAGE to restore your photo",
            f"  tensorboard --logdir {shlex.quote(str(run_dir.parent))}    # every trial, its decisions and reward;",
            f"    then open {TENSORBOARD_URL}    # one colour per search, no smoothing",
            f"  nasdip compare {folder} --plot curves.png",
            f"  nasdip analyze {folder} --plot decisions.png"]


def schedule_options() -> list:
    """``--schedule --eta --min-iters --max-iters --ladder-crops --ladder-widths``."""
    return [
        click.option("--schedule", type=click.Choice(SCHEDULES), default="none", show_default=True,
                     help="Multi-fidelity schedule over a ladder of fidelities (steps from --min-iters to --max-iters "
                          "by factors of --eta; --ladder-crops/--ladder-widths per rung)."),
        click.option("--eta", type=click.IntRange(2), default=3, show_default=True,
                     help="Promotion factor: the best 1/eta of a rung go up."),
        click.option("--min-iters", type=STEPS, default=None,
                     help=f"Steps at the cheapest rung (default {DEFAULT_LADDER[0]})."),
        click.option("--max-iters", type=STEPS, default=None,
                     help=f"Steps at the top rung, the deployment fidelity (default {DEFAULT_LADDER[1]})."),
        click.option("--ladder-crops", type=IntList(), default=None,
                     help="Crop side per rung, comma-separated (default: --crop at every rung)."),
        click.option("--ladder-widths", type=IntList(), default=None,
                     help="Network width per rung, comma-separated (default: --width at every rung)."),
        click.option("--ladder", default=None, metavar="SPEC",
                     help="The rungs as ITERS:CROP:WIDTH,... (instead of --min-iters ...), optionally opened by a "
                          "training-free score rung score:NAME[:ETA] that scores ETA (default 10) candidates for "
                          "each one it passes on, e.g. score:psd,300:32:16,1500:96:32; score:psd alone "
                          "prescreens the other options' ladder."),
    ]


def fidelity_options() -> list:
    """``--iters --crop --width --lr``: how each candidate is fitted without a schedule."""
    return [
        click.option("--iters", type=STEPS, default=DEFAULT_FIDELITY.iters, show_default=True,
                     help="Fitting steps per candidate."),
        click.option("--crop", type=click.IntRange(8), default=DEFAULT_FIDELITY.crop, show_default=True,
                     help="Side of the search crops."),
        click.option("--width", type=NETWORK_WIDTH, default=DEFAULT_FIDELITY.width, show_default=True,
                     help="Network width of candidates."),
        click.option("--lr", type=LEARNING_RATE, default=None, help="Adam learning rate."),
    ]


SEARCH_EXAMPLES = (
    "nasdip search --searcher rl --task sr --budget 6 --iters 150 --crop 64 --run-dir runs/sr",
    "nasdip search --searcher random --task denoise --schedule halving --budget 27 --run-dir runs/dn",
    "nasdip search --run-dir runs/sr --resume --budget 12    # continue, with a larger budget",
)


def execution_and_output_options(path: click.Path) -> list:
    """The sections Execution (device, precision, executor and its options, workers, timeout) and Output."""
    return [
        section(
            "Execution",
            click.option("--device", default="auto", show_default=True, metavar="DEVICE", help="auto, cpu or cuda[:N]."),
            click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                         help="auto: bf16 where the device computes it natively."),
            click.option("--executor", type=RegistryName("executors"), default=None,
                         help=f"Where candidates are evaluated (default: {registry.default_name('executors')})."),
            plugin_options("executors"),
            click.option("--workers", type=click.IntRange(1, 4096), default=1, show_default=True,
                         help="Parallel evaluations."),
            click.option("--trial-timeout", type=FiniteFloat(min=0, min_open=True), default=None, metavar="SECONDS",
                         help="Seconds after which a candidate's evaluation is abandoned as failed."),
        ),
        section(
            "Output",
            click.option("--run-dir", type=path, default=None,
                         help="Run directory (default: runs/<searcher>-<task>-seed<seed>)."),
            click.option("--resume", is_flag=True,
                         help="Continue the search in --run-dir; repeated options must equal the recorded ones, "
                              "only --budget may change."),
            click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
            click.option("--quiet", is_flag=True, help="No progress bar or log lines."),
        ),
    ]


def search_command() -> click.Command:
    """The ``search`` command, with the options of every registered task."""
    path = click.Path(path_type=Path, file_okay=False)
    return build_command("search", run_search, [
        section(
            "Search",
            click.option("--searcher", type=RegistryName("searchers"), default=None,
                         help="Search strategy (required unless --resume)."),
            click.option("--task", "task_name", type=RegistryName("tasks"), default=None,
                         help="Restoration task (required unless --resume)."),
            click.option("--space", type=RegistryName("spaces"), default=None,
                         help=f"Search space (default: {registry.default_name('spaces')})."),
            click.option("--budget", type=click.IntRange(1, MAX_BUDGET), default=None,
                         help=f"Candidate evaluations (default {DEFAULT_BUDGET}); with a --schedule, candidates "
                              "started."),
            click.option("--reward", type=RegistryName("rewards"), default=None,
                         help=f"Reward (default: {registry.default_name('rewards')})."),
            click.option("--images", type=path, default=None,
                         help="Directory of clean search images (default: two crops of the built-in photo)."),
            click.option("--observed", is_flag=True,
                         help="--images holds degraded images (no clean versions): candidates are rewarded "
                              "without ground truth (default reward: holdout)."),
            click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the searcher and every fit."),
            click.option("--baseline-arch", default=None, metavar="NAME|ARCH.json",
                         help="Also fit this architecture (e.g. dip-skip) once at the deployment fidelity and report "
                              "its reward beside the best candidate's."),
            click.option("--searcher-option", multiple=True, metavar="KEY=VALUE",
                         help="Searcher setting (repeatable; see 'nasdip plugins')."),
        ),
        section("Task options (those of the chosen --task)", task_options),
        section("Fidelity: how each candidate is fitted", *fidelity_options(), stop_options),
        section(
            "Schedule: which candidates go up a ladder of fidelities",
            *schedule_options(),
            click.option("--batch", type=click.IntRange(1, MAX_BUDGET), default=4, show_default=True,
                         help="Candidates proposed per round (evaluated concurrently by parallel executors)."),
        ),
        *execution_and_output_options(path),
    ], examples=SEARCH_EXAMPLES)
