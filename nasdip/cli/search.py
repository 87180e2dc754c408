"""``nasdip search``: search an architecture, recording everything in a resumable run directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from nasdip.cli.params import RegistryName
from nasdip.cli.plugin_options import (
    build_command,
    plugin_options,
    pop_plugin_values,
    pop_task_values,
    task_options,
)


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


def run_search(searcher: str | None, task_name: str | None, space: str, images: Path | None, budget: int | None, batch: int,
               iters: int, crop: int, width: int, lr: float | None, reward: str, seed: int, device: str,
               precision: str, executor: str, workers: int, trial_timeout: float | None,
               searcher_option: tuple[str, ...], run_dir: Path | None, resume: bool, as_json: bool, quiet: bool,
               **task_values: Any) -> None:
    """Search an architecture for a task; the best one is written as RUN_DIR/best.json.

    Candidates are fitted on the search images (default: crops of the built-in photo) at the given fidelity
    (--iters, --crop, --width) and rewarded by --reward. --resume continues an interrupted run.
    """
    from tqdm import tqdm

    from nasdip.errors import UsageError
    from nasdip.search.driver import SearchSettings, resume_search, start_search
    from nasdip.search.evaluate import Fidelity
    from nasdip.search.records import OK

    if resume:
        if run_dir is None:
            raise UsageError("--resume needs --run-dir (the run to continue)")
    elif searcher is None or task_name is None:
        raise UsageError(f"{'--searcher' if searcher is None else '--task'} is required (unless --resume)")
    run_dir = run_dir or Path("runs") / f"{searcher}-{task_name}-seed{seed}"
    values = {} if resume else pop_task_values(task_name, task_values)
    executor_values = {} if resume else pop_plugin_values("executors", executor, task_values)
    bar = tqdm(total=budget, desc=f"search {searcher}", unit="trial", file=sys.stderr,
               disable=True if quiet else None, dynamic_ncols=True)

    def on_trial(trial) -> None:
        if trial.status != "duplicate":
            bar.update(1)
        best = "-" if trial.best_reward is None else f"{trial.best_reward:.3f}"
        bar.set_postfix({"best": best, "last": trial.status if trial.status != OK else f"{trial.reward:.3f}"},
                        refresh=False)

    if resume:
        driver = resume_search(run_dir, on_trial, budget)
    else:
        settings = SearchSettings(
            searcher=searcher, task=task_name, space=space, task_values=values,
            searcher_options=parse_key_values(searcher_option, "--searcher-option"), reward=reward,
            budget=budget or 10, batch=batch, fidelity=Fidelity(iters=iters, crop=crop, width=width), lr=lr,
            seed=seed, device=device, precision=precision, executor=executor, executor_options=executor_values,
            workers=workers,
            trial_timeout=trial_timeout, images=str(images) if images else "builtin",
        )
        driver = start_search(settings, run_dir, images, on_trial)
    bar.total = driver.settings.budget
    bar.update(driver.evaluated)
    try:
        summary = driver.run()
    except KeyboardInterrupt:
        bar.close()
        click.echo(f"interrupted after {len(driver.trials)} trials; continue with: "
                   f"nasdip search --resume --run-dir {run_dir}", err=True)
        sys.exit(130)
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    click.echo(f"{summary.searcher} on {summary.space} for {summary.task}: {summary.trials} trials "
               f"({summary.evaluated} evaluated, {summary.failed} failed, {summary.duplicates} duplicates) "
               f"in {summary.seconds:.0f} s; stopped: {summary.reason}")
    if summary.best_arch is None:
        click.echo("  no candidate succeeded")
        return
    from nasdip.catalog import space_of

    click.echo(f"  best reward {summary.best_reward:.3f} ({driver.settings.reward}) at trial {summary.best_trial}")
    for line in space_of(summary.best_arch).describe(summary.best_arch):
        click.echo(f"  {line}")
    click.echo(f"  wrote {run_dir / 'best.json'} (use it with: nasdip restore --arch {run_dir / 'best.json'})")


def search_command() -> click.Command:
    """The ``search`` command, with the options of every registered task."""
    path = click.Path(path_type=Path, file_okay=False)
    return build_command("search", run_search, [
        click.option("--searcher", type=RegistryName("searchers"), default=None,
                     help="Search strategy (required unless --resume)."),
        click.option("--task", "task_name", type=RegistryName("tasks"), default=None,
                     help="Restoration task (required unless --resume)."),
        task_options,
        click.option("--space", type=RegistryName("spaces"), default="nasdip", show_default=True, help="Search space."),
        click.option("--images", type=path, default=None,
                     help="Directory of clean search images (default: two crops of the built-in photo)."),
        click.option("--budget", type=click.IntRange(1), default=None, help="Candidate evaluations (default 10)."),
        click.option("--batch", type=click.IntRange(1), default=4, show_default=True,
                     help="Candidates proposed per round (evaluated concurrently by parallel executors)."),
        click.option("--iters", type=click.IntRange(1), default=200, show_default=True, help="Fitting steps per candidate."),
        click.option("--crop", type=click.IntRange(8), default=64, show_default=True, help="Side of the search crops."),
        click.option("--width", type=click.IntRange(4), default=16, show_default=True, help="Network width of candidates."),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Adam learning rate."),
        click.option("--reward", type=RegistryName("rewards"), default="psnr", show_default=True, help="Reward."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seeds the searcher and every fit."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True,
                     help="auto: bf16 where the device computes it natively."),
        click.option("--executor", type=RegistryName("executors"), default="serial", show_default=True,
                     help="Where candidates are evaluated."),
        plugin_options("executors"),
        click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Parallel evaluations."),
        click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Seconds after which a candidate's evaluation is abandoned as failed."),
        click.option("--searcher-option", multiple=True, metavar="KEY=VALUE", help="Searcher setting (repeatable)."),
        click.option("--run-dir", type=path, default=None,
                     help="Run directory (default: runs/<searcher>-<task>-seed<seed>)."),
        click.option("--resume", is_flag=True, help="Continue the search in --run-dir (only --budget may change)."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ])
