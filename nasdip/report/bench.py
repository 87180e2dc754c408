"""Benchmarks: degrade clean images as the paper does, restore them with several architectures, tabulate."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasdip.arch.document import Arch
from nasdip.errors import NasdipError
from nasdip.fit.ensemble import average_results, seed_settings
from nasdip.fit.inputs import SEED_STRIDE, degradation_generator
from nasdip.fit.packed import fit_many
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.io.crops import crop_square
from nasdip.io.images import load_image, save_image
from nasdip.nn.config import NetConfig
from nasdip.runinfo import RunInfo


@dataclass(frozen=True)
class RefusedImage:
    """An image of the benchmark that cannot be benchmarked (unreadable, too small for the task, ...): its name,
    its size (``-`` when unread) and the one-line reason. Its rows record the reason; the other images go on."""

    name: str
    size: str
    error: str


def bench_problem(task: Task, path: Path, crop: int | None, seed: int) -> Problem | RefusedImage:
    """One image centre-cropped and degraded with ``seed``, or why it cannot be (refused before any fitting)."""
    size = "-"
    try:
        clean = crop_square(load_image(path)[0], crop)
        size = f"{clean.shape[-1]}x{clean.shape[-2]}"
        return task.degrade(task.prepare_clean(clean), degradation_generator(seed), name=path.name)
    except NasdipError as error:
        return RefusedImage(path.name, size, str(error))


def bench_problems(task: Task, images: Sequence[Path], crop: int | None, seed: int) -> list[Problem | RefusedImage]:
    """Each image centre-cropped and degraded (the same observation for every architecture; the ``index``-th
    image with seed ``seed + 1000 * index``, as :func:`nasdip.fit.inputs.degrade_set`); an image that cannot be
    is a :class:`RefusedImage`."""
    return [bench_problem(task, path, crop, seed + SEED_STRIDE * index) for index, path in enumerate(images)]


def size_label(problem: Problem) -> str:
    height, width = problem.output_size
    return f"{width}x{height}"


def refused_rows(refused: RefusedImage, task: Task, archs: Sequence[Arch]) -> list[dict[str, Any]]:
    """The rows of an image that was not benchmarked: its baseline and every architecture, each with the reason."""
    rows = [{"image": refused.name, "size": refused.size, "arch": task.baseline_name, "baseline": True}]
    rows += [{"image": refused.name, "size": refused.size, "arch": arch.label, "baseline": False} for arch in archs]
    return [{**row, "error": refused.error, "refused": True} for row in rows]


def result_row(problem: Problem, arch: Arch, outcomes: Sequence[FitResult | Exception], task: Task) -> tuple[
        dict[str, Any], FitResult | None]:
    """One architecture's row for one problem from its fits (one per seed, averaged when several); a failed fit
    is recorded with its error, not raised."""
    row: dict[str, Any] = {"image": problem.name, "size": size_label(problem), "arch": arch.label, "baseline": False}
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if errors:
        return {**row, "error": f"{type(errors[0]).__name__}: {errors[0]}"}, None
    result = average_results(task, problem, outcomes)
    timings = {"seconds": result.seconds, "seconds_per_step": result.seconds / result.iters,
               "iters": result.iters, "stop_reason": result.stop_reason, "rollbacks": result.rollbacks,
               "packed": result.packed}
    return {**row, **result.metrics, **timings, "error": None}, result


def run_bench(task: Task, images: Sequence[Path], archs: Sequence[Arch], config: NetConfig, settings: FitSettings,
              crop: int | None = None, run: RunInfo | None = None, callbacks: tuple = (),
              on_fit_start: Callable[[str, int], None] | None = None, out_dir: Path | None = None, seeds: int = 1,
              pack: bool = True) -> list[dict[str, Any]]:
    """One row per (image, arch) plus one baseline row per image (the task's naive restoration).

    With ``seeds`` above 1 each row is the average of that many fits from consecutive seeds
    (:func:`nasdip.fit.ensemble.average_results`). The fits of one architecture (images of one size, seeds) are
    packed together where possible (``pack``, :mod:`nasdip.fit.packed`); ``on_fit_start(label, fits)`` is told
    before each fit or pack of ``fits`` fits. An image that cannot be benchmarked (unreadable, too small for the
    task) is refused before any fitting: its rows carry the reason (``refused``) and the other images go on.
    """
    prepared = bench_problems(task, images, crop, settings.seed)
    problems = [problem for problem in prepared if isinstance(problem, Problem)]
    members = [(index, member) for index in range(len(problems)) for member in seed_settings(settings, seeds)]
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    for number, arch in enumerate(archs):
        requests = [FitRequest(task, problems[index], arch, config, member, callbacks=callbacks,
                               run=_child_run(run, problems[index], arch, member.seed if seeds > 1 else None))
                    for index, member in members]

        def started(indices: Sequence[int], arch: Arch = arch) -> None:
            if on_fit_start is not None:
                names = dict.fromkeys(Path(problems[members[i][0]].name).stem for i in indices)
                on_fit_start(f"{'+'.join(names)}/{arch.label}", len(indices))

        outcomes = fit_many(requests, pack=pack, on_start=started)
        for index, problem in enumerate(problems):
            mine = [outcome for (owner, _), outcome in zip(members, outcomes, strict=True) if owner == index]
            row, result = result_row(problem, arch, mine, task)
            rows[index, number] = row
            if out_dir is not None and result is not None:
                label = arch.label.replace(":", "-")
                save_image(out_dir / f"{Path(problem.name).stem}_{task.name}_{label}.png", result.output)
    table: list[dict[str, Any]] = []
    fitted = iter(range(len(problems)))
    for problem in prepared:
        if isinstance(problem, RefusedImage):
            table.extend(refused_rows(problem, task, archs))
            continue
        index = next(fitted)
        baseline = task.metrics(task.baseline(problem), problem.clean)
        table.append({"image": problem.name, "size": size_label(problem), "arch": task.baseline_name,
                      "baseline": True, **baseline, "error": None})
        table.extend(rows[index, number] for number in range(len(archs)))
    return table


def _child_run(run: RunInfo | None, problem: Problem, arch: Arch, seed: int | None) -> RunInfo | None:
    if run is None:
        return None
    tag = f"{Path(problem.name).stem}/{arch.label}" + ("" if seed is None else f"/seed{seed}")
    return run.child(tag, observation=problem.observation, clean=problem.clean)


def metric_keys(task: Task) -> tuple[str, ...]:
    """The columns of a benchmark table: the task's score, its oracle maximum, then SSIM when reported."""
    return (task.score_name, f"{task.score_name}_max", "ssim")


def means(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Mean of each of ``keys`` and the seconds per arch (baseline included), over the fits that succeeded."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["arch"], []).append(row)
    summary = []
    for arch, group in groups.items():
        good = [row for row in group if row["error"] is None]
        entry: dict[str, Any] = {"arch": arch, "images": len(good), "failed": len(group) - len(good)}
        for key in (*keys, f"{keys[0]}_seed_mean", "stop_step", "seconds"):
            values = [row[key] for row in good if row.get(key) is not None]
            entry[key] = sum(values) / len(values) if values else None
        summary.append(entry)
    return summary


def format_table(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[str]:
    """Text table lines for rows of one image or for means; ``keys`` are the score, its oracle and SSIM."""

    def cell(value: Any, digits: int) -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"

    score, oracle, similarity = keys
    single = f"{score}_seed_mean"  # seed ensembles (--seeds): the members' own mean score, for the gain
    ensembles = any(row.get(single) is not None for row in rows)
    lines = [f"  {'arch':24} {score.upper():>7} {score.upper() + ' max*':>10} {similarity.upper():>7} "
             f"{'step':>6} {'seconds':>9}" + (f" {'1 seed':>7}" if ensembles else "")]
    for row in rows:
        if row.get("error"):
            lines.append(f"  {row['arch']:24} failed: {row['error']}")
            continue
        lines.append(f"  {row['arch']:24} {cell(row.get(score), 2):>7} {cell(row.get(oracle), 2):>10} "
                     f"{cell(row.get(similarity), 4):>7} {cell(row.get('stop_step'), 0):>6} "
                     f"{cell(row.get('seconds'), 1):>9}" + (f" {cell(row.get(single), 2):>7}" if ensembles else ""))
    return lines
