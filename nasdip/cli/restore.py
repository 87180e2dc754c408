"""``nasdip restore``: restore one image with an architecture (or the built-in photo, degraded on the fly), or every
image of a folder (:mod:`nasdip.cli.batch`)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nasdip.cli.options import (
    RegistryName,
    build_command,
    check_output_dirs,
    fit_options,
    pop_task_values,
    section,
    settings_from,
    stop_values,
    task_options,
)
from nasdip.cli.progress import FitProgress
from nasdip.cli.wait import ExpectedWait
from nasdip.options import SEED_COUNT, FiniteFloat

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.request import FitRequest
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.nn.config import NetConfig


def _format(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Restoration:
    """What ``restore`` does to each image, all but the image: the task, the architecture (``None`` with ``auto``:
    chosen per image, tuned by ``auto_values``), those compared, the network and fitting settings, where the
    outputs go and how the report is shown."""

    task: Task
    architecture: Arch | None
    compare: tuple[Arch, ...]
    config: NetConfig
    settings: FitSettings
    out_dir: Path
    logdir: Path | None
    tile: int | None
    seeds: int
    quiet: bool
    as_json: bool
    auto: bool
    auto_values: dict[str, Any]

    def request(self, problem: Problem) -> FitRequest:
        """The fit of ``problem`` (its device resolved: a bad ``--device`` is refused here)."""
        from nasdip.fit.request import FitRequest

        return FitRequest(self.task, problem, self.architecture, self.config, self.settings)

    def check(self, problem: Problem) -> None:
        """Refuse, before any fit, what ``problem`` cannot go with: the device, and with ``auto`` the choice's plan."""
        request = self.request(problem)
        if self.auto:
            from nasdip.cli.auto import plan_choice

            plan_choice(request, **self.auto_values)

    def run(self, problem: Problem) -> dict[str, Any]:
        """Restore ``problem`` (with ``auto``, choosing its architecture first) and write the outputs; the report."""
        request = self.request(problem)
        if self.auto:
            from nasdip.cli.auto import restore_auto

            return restore_auto(request, self.out_dir, self.logdir, self.quiet, self.compare,
                                **self.auto_values, as_json=self.as_json)
        return restore_with_progress(request, self.out_dir, self.logdir, self.tile, self.quiet, self.seeds,
                                     self.compare)

    def show(self, report: dict[str, Any]) -> None:
        """The report as one JSON line (``--json``), else as a summary (with ``auto``, the choice's cost too)."""
        if self.as_json:
            click.echo(json.dumps(report))
            return
        print_report(self.task, report)
        if self.auto:
            from nasdip.cli.auto import print_cost

            print_cost(report)


def run_restore(image: Path | None, task_name: str, arch: str | None, gt: Path | None, crop: int | None,
                iters: int | None, lr: float | None, seed: int, device: str, precision: str,
                compile_net: bool | None, cuda_graphs: str, width: int, out_dir: Path, logdir: Path | None,
                as_json: bool, quiet: bool, tile: int | None, seeds: int, compare: tuple[str, ...],
                **task_values: Any) -> None:
    """Restore IMAGE (a low-resolution, noisy or masked photo) with a Deep Image Prior network.

    Without IMAGE, a built-in photograph is degraded by the task and the restoration is scored against it. IMAGE
    may be a folder: each of its images is restored in turn (--gt then a folder of ground truths of the same names).
    """
    from nasdip import registry
    from nasdip.arch.catalog import resolve_arch
    from nasdip.cli.auto import AUTO, AUTO_OPTIONS, check_combinations
    from nasdip.cli.batch import folder_inputs, restore_folder
    from nasdip.nn.config import NetConfig

    auto_values = {name: task_values.pop(name) for name in AUTO_OPTIONS}
    check_combinations(arch, seeds, tile, auto_values)
    task = registry.get("tasks", task_name)(**pop_task_values(task_name, task_values))
    folder = image is not None and image.is_dir()
    inputs = folder_inputs(image, gt) if folder else []
    problem = None if folder else restore_problem(task, image, gt, crop, seed)
    architecture = None if arch == AUTO else resolve_arch(task.arch_spec(arch))  # auto: chosen per image
    others = tuple(resolve_arch(spec) for spec in compare)
    stopping = stop_values(task_values)
    settings = settings_from(task.settings(), iters, lr, seed, device, precision, compile_net, cuda_graphs,
                             **stopping)
    if "stop" not in stopping:  # the task's measured default (denoising stops automatically)
        settings = task.restore_settings(settings)
    check_output_dirs(out=out_dir, logdir=logdir)
    restoration = Restoration(task, architecture, others, NetConfig(width=width), settings, out_dir, logdir, tile,
                              seeds, quiet, as_json, arch == AUTO, auto_values)
    if folder:
        restore_folder(restoration, inputs, crop)
    else:
        restoration.show(restoration.run(problem))


def restore_problem(task, image: Path | None, gt: Path | None, crop: int | None, seed: int):
    """The user's observation (with ``--gt``), or the built-in photo degraded by the task."""
    from nasdip.errors import UsageError
    from nasdip.fit.inputs import builtin_problem, user_problem

    if image is None:
        if gt is not None:
            raise UsageError("--gt needs an IMAGE (the built-in photo is scored against its own original)")
        return builtin_problem(task, seed, crop)
    if crop is not None:
        raise UsageError("--crop applies to the built-in photo only; crop your image beforehand")
    if gt is not None and gt.is_dir():
        raise UsageError(f"--gt {gt} is a folder: it goes with a folder IMAGE; give the ground truth's file")
    return user_problem(task, image, gt)


def restore_with_progress(request, out_dir: Path, logdir: Path | None, tile: int | None, quiet: bool,
                          seeds: int = 1, compare: tuple = ()) -> dict[str, Any]:
    """Restore with a progress bar and the lifecycle hooks around it; returns the report."""
    from nasdip.fit.restoration import restore
    from nasdip.fit.tiling import tile_count
    from nasdip.runinfo import RunInfo

    task, problem, arch, settings = request.task, request.problem, request.arch, request.settings
    images = {"observation": problem.observation, **({"clean": problem.clean} if problem.clean is not None else {})}
    run = RunInfo("restore", logdir, tag=f"{problem.name}/{arch.label}", images=images,
                  config={"task": task.name, "task_options": dict(task.values), "arch": arch.label,
                          **settings.to_dict(), "width": request.config.width, "seeds": seeds})
    tiles = 1 if tile is None else tile_count(tuple(problem.observation.shape[-2:]), tile)
    total = settings.iters * tiles * (1 + len(compare))
    progress = FitProgress(total, f"{task.name} {arch.label}", quiet)
    callbacks = (progress.callback,) if quiet else (progress.callback, ExpectedWait(total, settings.stop != "iters").callback)
    run.emit("run_started")
    try:
        return restore(request.replace(run=run, callbacks=callbacks), out_dir, tile=tile,
                       on_tile=progress.start, seeds=seeds, compare=compare)[1]
    finally:
        progress.close()
        run.emit("run_finished")


def print_report(task, report: dict[str, Any]) -> None:
    """The human-readable summary of a restoration."""
    click.echo(f"{task.describe()} with {report['arch']}: {report['iters']} steps in {report['seconds']:.1f} s "
               f"({report['seconds_per_step'] * 1000:.0f} ms/step, {report['device']}, {report['precision']}"
               f"{', compiled' if report['compiled'] else ''}{', CUDA graphs' if report.get('cuda_graphs') else ''})")
    name, unit = task.score_name, task.score_unit
    if report["seeds"] > 1:
        last = report["seed"] + report["seeds"] - 1
        line = f"  the average of {report['seeds']} fits (seeds {report['seed']}-{last})"
        if report.get(f"{name}_seed_mean") is not None:
            line += (f"; the fits alone: {name.upper()} {_format(report[f'{name}_seed_mean'])} ± "
                     f"{_format(report[f'{name}_seed_sd'])} {unit}")
        click.echo(line)
    if report.get(name) is not None:
        baseline = task.baseline_name
        click.echo(f"  {name.upper()} {_format(report[name])} {unit} (final), {_format(report[name + '_max'])} {unit} "
                   f"(oracle max over iterations), SSIM {_format(report.get('ssim'), 4)}; "
                   f"{baseline}: {_format(report.get(f'{baseline}_{name}'))} {unit}")
    for label, metrics in report.get("compared", {}).items():
        score = metrics.get(name)
        click.echo(f"  compared with {label}: " + (f"{name.upper()} {_format(score)} {unit} (final), " if score is not None
                                                    else "") + f"{metrics['iters']} steps in {metrics['seconds']:.1f} s")
    if report["stop"] != "iters":
        detected = {"detected": "detected", "cap": "the detector did not fire before the cap",
                    "callback": "stopped early"}.get(report["stop_reason"], report["stop_reason"])
        click.echo(f"  stopping rule {report['stop']}: returned step {report['stop_step']} of {report['iters']} "
                   f"({detected})")
    click.echo(f"  wrote {report['output']}")
    click.echo(f"  wrote {report['comparison']}")
    warn_if_below_baseline(task, report)


def warn_if_below_baseline(task, report: dict[str, Any]) -> None:
    """One warning line when the restoration scores below the task's naive restoration (its input for denoising
    and inpainting, bicubic for super-resolution): the fit made the image worse."""
    name, baseline = task.score_name, task.baseline_name
    ours, theirs = report.get(name), report.get(f"{baseline}_{name}")
    if ours is None or theirs is None or ours >= theirs:
        return
    sys.stdout.flush()
    click.echo(f"Warning: the restoration ({name.upper()} {ours:.2f} {task.score_unit}) scores below the {baseline} "
               f"input ({theirs:.2f} {task.score_unit}): fit longer (--iters), stop automatically (--stop auto) or "
               f"try another --arch", err=True)


RESTORE_EXAMPLES = (
    "nasdip restore photo.png --task denoise --sigma 25 --stop auto",
    "nasdip restore small.png --task sr --scale 4 --arch runs/sr/best.json --compare dip-skip",
    "nasdip restore --task inpaint --drop 0.5 --iters 300 --width 32    # the built-in photo",
    "nasdip restore noisy.png --task denoise --arch auto --compare dip-skip    # choose the architecture for it",
    "nasdip restore photos/ --task sr --scale 4 --gt originals/ --arch auto    # every image, each its own arch",
)


def restore_command() -> click.Command:
    """The ``restore`` command, with the options of every registered task."""
    folder = click.Path(path_type=Path, file_okay=False)
    return build_command("restore", run_restore, [
        click.argument("image", required=False, type=click.Path(path_type=Path)),
        section(
            "Input",
            click.option("--task", "task_name", type=RegistryName("tasks"), required=True, help="Restoration task."),
            click.option("--gt", type=click.Path(path_type=Path), metavar="CLEAN.png|DIR",
                         help="Ground truth, to report PSNR/SSIM (for a folder IMAGE: a folder, matched by file "
                              "name without extension)."),
            click.option("--crop", type=click.IntRange(1, 65536), default=None,
                         help="Side of the centre crop of the built-in photo (default 128; only without IMAGE)."),
        ),
        section("Task options (those of the chosen --task)", task_options),
        section(
            "Network",
            click.option("--arch", default=None, metavar="NAME|ARCH.json",
                         help="Preset name, architecture JSON file, or auto: choose one for IMAGE (for each image "
                              "of a folder; default: the task's preset)."),
            click.option("--compare", multiple=True, metavar="ARCH",
                         help="Also restore with this preset or architecture file (repeatable; e.g. dip-skip) and "
                              "show it beside the restoration in the comparison picture."),
            click.option("--auto-candidates", type=int, default=None, metavar="N",
                         help="--arch auto: random candidates of the space to score (default 200)."),
            click.option("--auto-budget", type=FiniteFloat(), default=None, metavar="FITS",
                         help="--arch auto: what choosing and restoring may cost together, in plain fits (fitting "
                              "steps x pixels of one fit; default 3)."),
            click.option("--auto-score", type=RegistryName("rewards"), default=None, metavar="SCORE",
                         help="--arch auto: the training-free score that screens the candidates (default psd)."),
            click.option("--auto-reward", type=RegistryName("rewards"), default=None, metavar="REWARD",
                         help="--arch auto: the no-reference reward that ranks the fitted candidates (default: the "
                              "task's, e.g. recorrupted for denoising, cross-scale for super-resolution)."),
            click.option("--auto-include", default=None, metavar="ARCHS",
                         help="--arch auto: presets or architecture files (comma-separated) fitted unscored beside "
                              "the best-scored candidates; none: only scored ones (default: the task's, e.g. "
                              "dip-skip and its presets)."),
            click.option("--auto-workers", type=click.IntRange(1, 1024), default=None, metavar="N",
                         help="--arch auto: fit the candidates on N local processes at once (cores // N torch "
                              "threads each; default 1: in this process)."),
        ),
        fit_options,
        section(
            "Fitting",
            click.option("--seeds", type=SEED_COUNT, default=1, show_default=True,
                         help="Average the restorations of this many fits (seeds --seed onwards), fitted together."),
            click.option("--tile", type=click.IntRange(16, 65536), default=None,
                         help="Restore overlapping TILE x TILE windows of the image separately (for large images)."),
        ),
        section(
            "Output",
            click.option("--out", "out_dir", type=folder, default=Path("nasdip-out"), show_default=True,
                         help="Directory for the restored image and the comparison."),
            click.option("--logdir", type=folder, default=None, help="Write TensorBoard curves and images here."),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a summary."),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ),
    ], examples=RESTORE_EXAMPLES)
