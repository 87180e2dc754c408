"""``nasdip restore DIR``: every image of a folder restored in turn with the same options (``--arch auto``: an
architecture chosen for each), ground truths matched by file name. Every input is checked before the first fit;
an image whose fit fails is reported in one line and the others go on; a table sums the folder up."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import named
from nasdip.io.images import list_images

if TYPE_CHECKING:
    from nasdip.cli.restore import Restoration
    from nasdip.fit.problem import Problem
    from nasdip.fit.task import Task

#: An image of the folder and its ground truth (``None``: none given).
Input = tuple[Path, Path | None]
#: An image of the folder and its report (``None``: its restoration failed).
Outcome = tuple[Path, dict[str, Any] | None]


def by_stem(images: list[Path], folder: Path, what: str) -> dict[str, Path]:
    """``images`` by file name without extension; two of one name are a one-line error (``what``: whose)."""
    found: dict[str, Path] = {}
    for path in images:
        if path.stem in found:
            raise UsageError(f"{folder}: {found[path.stem].name} and {path.name} are both named {path.stem!r}, so "
                             f"their {what} would be confused; rename one or move it out")
        found[path.stem] = path
    return found


def folder_inputs(folder: Path, gt: Path | None) -> list[Input]:
    """The images of ``folder`` (sorted), each with its ground truth of the same name in the folder ``gt``; one-line
    errors for an empty folder, a ``gt`` file, an image without a ground truth, two images of one name."""
    if gt is not None and not gt.is_dir():
        raise UsageError(f"--gt {gt} is not a folder: with a folder IMAGE ({folder}) give a folder of ground truths "
                         f"named like its images")
    images = list(by_stem(list_images(folder), folder, "outputs").values())
    if gt is None:
        return [(path, None) for path in images]
    truths = by_stem(list_images(gt), gt, "images")
    for path in images:
        if path.stem not in truths:
            raise UsageError(f"{path}: no ground truth of its name ({path.stem}.*) in --gt {gt}")
    return [(path, truths[path.stem]) for path in images]


def load(restoration: Restoration, image: Input, crop: int | None) -> Problem:
    """One image's problem, read as ``restore IMAGE`` reads it."""
    from nasdip.cli.restore import restore_problem

    path, truth = image
    return restore_problem(restoration.task, path, truth, crop, restoration.settings.seed)


def restore_one(restoration: Restoration, image: Input, crop: int | None) -> dict[str, Any] | None:
    """Restore one image and show its report; a failure is one ``Error:`` line on stderr (a JSON object naming the
    image and its error with ``--json``) and ``None``."""
    path = image[0]
    try:
        report = named(str(path), lambda: restoration.run(load(restoration, image, crop)))
    except NasdipError as error:
        sys.stdout.flush()
        click.echo(f"Error: {error}", err=True)
        if restoration.as_json:
            click.echo(json.dumps({"image": path.stem, "input": str(path), "error": str(error)}))
        return None
    restoration.show(report)
    return report


def restore_folder(restoration: Restoration, images: list[Input], crop: int | None) -> None:
    """Check every image (readable, of a size the task takes, a choice ``--arch auto`` can plan), then restore each
    in turn and sum up; raises, naming them, when some failed."""
    for image in images:
        named(str(image[0]), restoration.check, load(restoration, image, crop))
    outcomes: list[Outcome] = []
    for number, image in enumerate(images, start=1):
        if not restoration.as_json:
            click.echo(f"[{number}/{len(images)}] {image[0]}")
        outcomes.append((image[0], restore_one(restoration, image, crop)))
    if not restoration.as_json:
        for line in summary_lines(restoration.task, outcomes, restoration.auto):
            click.echo(line)
    failed = [path.name for path, report in outcomes if report is None]
    if failed:
        raise NasdipError(f"{len(failed)} of {len(images)} images failed: {', '.join(failed)} (their errors are above)")


def summary_lines(task: Task, outcomes: list[Outcome], auto: bool) -> list[str]:
    """A table of the folder: image, arch, steps, seconds, the task's score where a ground truth gives one and, for
    ``--arch auto``, the choice's cost in plain fits; a failed image says so."""
    name = task.score_name
    scored = any(report is not None and report.get(name) is not None for _, report in outcomes)
    header = ["image", "arch", "steps", "seconds", *([f"{name.upper()} ({task.score_unit})"] if scored else []),
              *(["auto cost (fits)"] if auto else [])]

    def cells(report: dict[str, Any] | None) -> list[str]:
        if report is None:
            return ["failed", *["-"] * (len(header) - 2)]
        score = [] if not scored else ["-" if report.get(name) is None else f"{report[name]:.2f}"]
        return [report["arch"], str(report["iters"]), f"{report['seconds']:.1f}", *score,
                *([f"{report['auto']['cost']:.2f}"] if auto else [])]

    rows = [header, *([path.name, *cells(report)] for path, report in outcomes)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    restored = sum(report is not None for _, report in outcomes)
    return ["", f"{task.describe()}: {restored} of {len(outcomes)} images restored",
            *("  " + "  ".join(cell.ljust(width) if column < 2 else cell.rjust(width)
                              for column, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
              for row in rows)]
