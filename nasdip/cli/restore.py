"""``nasdip restore``: restore one image with an architecture (or the built-in photo, degraded on the fly)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nasdip.cli.fit_options import fit_options, settings_from
from nasdip.cli.params import RegistryName
from nasdip.cli.plugin_options import build_command, pop_task_values, task_options
from nasdip.cli.progress import FitProgress


def _format(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def run_restore(image: Path | None, task_name: str, arch: str | None, gt: Path | None, crop: int | None,
                iters: int | None, lr: float | None, seed: int, device: str, precision: str, width: int,
                out_dir: Path, logdir: Path | None, as_json: bool, quiet: bool, tile: int | None,
                **task_values: Any) -> None:
    """Restore IMAGE (a low-resolution, noisy or masked photo) with a Deep Image Prior network.

    Without IMAGE, a built-in photograph is degraded by the task and the restoration is scored against it.
    """
    from nasdip import registry
    from nasdip.catalog import resolve_arch
    from nasdip.errors import UsageError
    from nasdip.events import RunInfo
    from nasdip.nn.config import NetConfig
    from nasdip.plugin_manager import notify
    from nasdip.restoration import builtin_problem, restore, user_problem

    task = registry.get("tasks", task_name)(**pop_task_values(task_name, task_values))
    if image is None:
        if gt is not None:
            raise UsageError("--gt needs an IMAGE (the built-in photo is scored against its own original)")
        problem = builtin_problem(task, seed, crop)
    else:
        if crop is not None:
            raise UsageError("--crop applies to the built-in photo only; crop your image beforehand")
        problem = user_problem(task, image, gt)
    architecture = resolve_arch(arch or task.default_arch)
    settings = settings_from(task.settings(), iters, lr, seed, device, precision)
    config = NetConfig(width=width)
    run = RunInfo("restore", logdir, tag=f"{problem.name}/{architecture.label}",
                  config={"task": task.describe(), "arch": architecture.label, **settings.to_dict(), "width": width},
                  images={"observation": problem.observation, **({"clean": problem.clean} if problem.clean is not None else {})})
    tiles = 1
    if tile is not None:
        from nasdip.restoration import tile_starts

        height, width = problem.observation.shape[-2:]
        tiles = len(tile_starts(height, tile, tile // 8)) * len(tile_starts(width, tile, tile // 8))
    progress = FitProgress(settings.iters * tiles, f"{task.name} {architecture.label}", quiet)
    notify("run_started", run=run)
    try:
        _, report = restore(task, problem, architecture, config, settings, out_dir, run=run,
                            callbacks=(progress.callback,), tile=tile,
                            on_tile=progress.start)
    finally:
        progress.close()
        notify("run_finished", run=run)
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"{task.describe()} with {architecture.label}: {report['iters']} steps in {report['seconds']:.1f} s "
               f"({report['seconds_per_step'] * 1000:.0f} ms/step, {report['device']}, {report['precision']})")
    if report["psnr"] is not None:
        baseline = task.baseline_name
        click.echo(f"  PSNR {_format(report['psnr'])} dB (final), {_format(report['psnr_max'])} dB (oracle max over "
                   f"iterations), SSIM {_format(report['ssim'], 4)}; {baseline}: {_format(report[baseline + '_psnr'])} dB")
    click.echo(f"  wrote {report['output']}")
    click.echo(f"  wrote {report['comparison']}")


def restore_command() -> click.Command:
    """The ``restore`` command, with the options of every registered task."""
    return build_command("restore", run_restore, [
        click.argument("image", required=False, type=click.Path(path_type=Path, dir_okay=False)),
        click.option("--task", "task_name", type=RegistryName("tasks"), required=True, help="Restoration task."),
        task_options,
        click.option("--arch", default=None, help="Preset name or architecture JSON file (default: the task's preset)."),
        click.option("--gt", type=click.Path(path_type=Path, dir_okay=False), help="Ground truth, to report PSNR/SSIM."),
        click.option("--crop", type=click.IntRange(8), default=None,
                     help="Side of the centre crop of the built-in photo (default 128; only without IMAGE)."),
        fit_options,
        click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("nasdip-out"),
                     show_default=True, help="Directory for the restored image and the comparison."),
        click.option("--logdir", type=click.Path(path_type=Path, file_okay=False), default=None,
                     help="Write TensorBoard curves and images here."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a summary."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--tile", type=click.IntRange(16), default=None,
                     help="Restore overlapping TILE x TILE windows of the image separately (for large images)."),
    ])
