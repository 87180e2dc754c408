"""``nasdip bench``: restore a folder of clean images, degraded as the paper does, with several architectures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
from nasdip.options import SEED_COUNT

ORACLE_NOTE = ("* max: the best score over all iterations against the ground truth, an oracle no user has "
               "(the NAS-DIP release reports it); the first column is the returned output, from the step in "
               "'step' (the last one, or the one an automatic --stop detected).")


def run_bench_command(task_name: str, images_dir: Path | None, speed: bool, sizes: tuple[int, ...],
                      arch_specs: tuple[str, ...], crop: int | None, iters: int | None, lr: float | None, seed: int,
                      device: str, precision: str, compile_net: bool | None, cuda_graphs: str, width: int,
                      out_dir: Path | None, logdir: Path | None, as_json: bool, quiet: bool, seeds: int,
                      **task_values: Any) -> None:
    """Benchmark architectures on clean images degraded by the task: PSNR, oracle max PSNR, SSIM, seconds."""
    from nasdip import registry
    from nasdip.arch.catalog import resolve_arch
    from nasdip.errors import UsageError
    from nasdip.fit.inputs import check_crop
    from nasdip.nn.config import NetConfig

    task = registry.get("tasks", task_name)(**pop_task_values(task_name, task_values))
    check_crop(task, crop)
    archs = [resolve_arch(spec) for spec in arch_specs or task.reference_specs()]
    settings = settings_from(task.settings(), iters, lr, seed, device, precision, compile_net, cuda_graphs,
                             **stop_values(task_values))
    config = NetConfig(width=width)
    if speed:
        speed_report(task, archs, config, settings, sizes or (128, 256), as_json)
        return
    if images_dir is None:
        raise UsageError("--images DIR is required (or --speed to time fitting steps)")
    check_output_dirs(out=out_dir, logdir=logdir)
    rows = bench_rows(task, images_dir, archs, config, settings, crop, out_dir, logdir, quiet, seeds)
    print_bench(task, rows, images_dir, crop, config, settings, as_json, seeds)


class PackProgress:
    """Feeds a :class:`FitProgress` from fits that may run packed: a pack of ``K`` fits advances the bar by ``K``
    steps per step."""

    def __init__(self, progress: FitProgress) -> None:
        self.progress, self.fits = progress, 1

    def start(self, label: str, fits: int) -> None:
        self.progress.start(label)
        self.fits = fits

    def callback(self, step: int, metrics) -> None:
        self.progress.callback(step * self.fits, metrics)


def bench_rows(task, images_dir: Path, archs, config, settings, crop: int | None, out_dir: Path | None,
               logdir: Path | None, quiet: bool, seeds: int = 1) -> list[dict[str, Any]]:
    """Run the benchmark with a progress bar and the lifecycle hooks around it."""
    from nasdip.io.images import list_images
    from nasdip.report.bench import run_bench
    from nasdip.runinfo import RunInfo

    images = list_images(images_dir)
    run = RunInfo("bench", logdir, config={"task": task.name, "task_options": dict(task.values),
                                           "archs": [a.label for a in archs], "crop": crop, "width": config.width,
                                           "seeds": seeds, **settings.to_dict()})
    progress = FitProgress(settings.iters * len(images) * len(archs) * seeds, f"bench {task.name}", quiet)
    packs = PackProgress(progress)
    run.emit("run_started")
    try:
        return run_bench(task, images, archs, config, settings, crop, run=run, callbacks=(packs.callback,),
                         on_fit_start=packs.start, out_dir=out_dir, seeds=seeds)
    finally:
        progress.close()
        run.emit("run_finished")


def print_bench(task, rows: list[dict[str, Any]], images_dir: Path, crop: int | None, config, settings,
                as_json: bool, seeds: int = 1) -> None:
    """Tables per image and the means (or one JSON object); an image that was refused is one line with its
    reason; failed fits and refused images make the command fail after printing."""
    from nasdip.report.bench import format_table, means, metric_keys

    keys = metric_keys(task)
    summary = means(rows, keys)
    refused = list(dict.fromkeys(row["image"] for row in rows if row.get("refused")))
    failed = sum(1 for row in rows if row["error"] is not None and not row.get("refused"))
    if as_json:
        click.echo(json.dumps({"task": task.name, "options": task.values, "crop": crop, "width": config.width,
                               "seeds": seeds, "settings": settings.to_dict(), "rows": rows, "means": summary}))
    else:
        images = list(dict.fromkeys(row["image"] for row in rows))
        seed_text = (f"seed {settings.seed}" if seeds == 1 else
                     f"the average of {seeds} fits per image (seeds {settings.seed}-{settings.seed + seeds - 1})")
        click.echo(f"{task.describe()}: {len(images)} images from {images_dir}, crop {crop or 'none'}, "
                   f"width {config.width}, {settings.iters} steps, {seed_text}")
        for image in images:
            image_rows = [row for row in rows if row["image"] == image]
            if image in refused:
                click.echo(f"{image} ({image_rows[0]['size']}): not benchmarked: {image_rows[0]['error']}")
                continue
            click.echo(f"{image} ({image_rows[0]['size']})")
            for line in format_table(image_rows, keys):
                click.echo(line)
        click.echo(f"mean over {len(images) - len(refused)} images")
        for line in format_table([{**entry, "error": None} for entry in summary], keys):
            click.echo(line)
        click.echo(ORACLE_NOTE)
    problems = ([f"{len(refused)} image(s) not benchmarked ({', '.join(refused)})"] if refused else []) + (
        [f"{failed} fit(s) failed"] if failed else [])
    if problems:
        raise click.ClickException(f"{' and '.join(problems)}; see the table")


def speed_report(task, archs, config, settings, sizes, as_json: bool) -> None:
    """Print per-step timings of nasdip's engine and the plain loop for each arch and size (or JSON)."""
    from nasdip.report.speed import format_speed_rows, speed_rows

    rows = speed_rows(task, archs, config, settings, sizes, compiled=settings.compile is True)
    if as_json:
        click.echo(json.dumps({"task": task.name, "device": settings.device, "rows": rows}))
        return
    for line in format_speed_rows(task, config, rows):
        click.echo(line)


BENCH_EXAMPLES = (
    "nasdip bench --task denoise --images ../shared/data/denoise --crop 128 --stop auto",
    "nasdip bench --task sr --speed --size 128 --arch dip-skip --arch nasdip-sr",
)


def bench_command() -> click.Command:
    """The ``bench`` command, with the options of every registered task."""
    folder = click.Path(path_type=Path, file_okay=False)
    return build_command("bench", run_bench_command, [
        section(
            "Input",
            click.option("--task", "task_name", type=RegistryName("tasks"), required=True, help="Restoration task."),
            click.option("--images", "images_dir", type=folder, default=None,
                         help="Directory of clean ground-truth images (not needed with --speed)."),
            click.option("--crop", type=click.IntRange(8), default=None,
                         help="Centre-crop every image to this side (cheap CPU runs)."),
            click.option("--speed", is_flag=True, help="Time fitting steps instead: nasdip's engine against the "
                         "straightforward float32 loop of the same network, on crops of the built-in photo."),
            click.option("--size", "sizes", type=click.IntRange(16, 512), multiple=True,
                         help="Image side for --speed (repeatable; default 128 and 256)."),
        ),
        section("Task options (those of the chosen --task)", task_options),
        section(
            "Network",
            click.option("--arch", "arch_specs", multiple=True, metavar="NAME|ARCH.json",
                         help="Preset or architecture file (repeatable; default: the task's reference architectures, "
                              "e.g. dip-skip and the task's preset)."),
        ),
        fit_options,
        section(
            "Fitting",
            click.option("--seeds", type=SEED_COUNT, default=1, show_default=True,
                         help="Restore every image with this many fits (seeds --seed onwards) and score their average."),
        ),
        section(
            "Output",
            click.option("--out", "out_dir", type=folder, default=None, help="Also write every restored image here."),
            click.option("--logdir", type=folder, default=None, help="Write TensorBoard curves and images here."),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables."),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ),
    ], examples=BENCH_EXAMPLES)
