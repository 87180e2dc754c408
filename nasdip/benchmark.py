"""Benchmarks: degrade clean images as the paper does, restore them with several architectures, tabulate."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nasdip.arch import Arch
from nasdip.errors import NasdipError
from nasdip.events import RunInfo
from nasdip.fit import FitResult, FitSettings
from nasdip.imageio import crop_square, load_image, save_image
from nasdip.nn.config import NetConfig
from nasdip.problems import degrade_set
from nasdip.task import Problem, Task


def bench_problems(task: Task, images: Sequence[Path], crop: int | None, seed: int) -> list[Problem]:
    """Each image centre-cropped and degraded (the same observation for every architecture)."""
    return degrade_set(task, [(path.name, crop_square(load_image(path)[0], crop)) for path in images], seed)


def fit_row(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
            run: RunInfo | None, callbacks: tuple) -> tuple[dict[str, Any], FitResult | None]:
    """One architecture's row for one problem; a fit that fails is recorded with its error, not raised."""
    child = run.child(f"{Path(problem.name).stem}/{arch.label}", observation=problem.observation,
                      clean=problem.clean) if run else None
    row: dict[str, Any] = {"image": problem.name, "size": size_label(problem), "arch": arch.label, "baseline": False}
    try:
        result = task.fit(problem, arch, config, settings, run=child, callbacks=callbacks)
    except NasdipError:
        raise
    except Exception as error:  # one failing fit must not lose the others
        return {**row, "error": f"{type(error).__name__}: {error}"}, None
    timings = {"seconds": result.seconds, "seconds_per_step": result.seconds / result.iters,
               "iters": result.iters, "stop_reason": result.stop_reason, "rollbacks": result.rollbacks}
    return {**row, **result.metrics, **timings, "error": None}, result


def size_label(problem: Problem) -> str:
    height, width = problem.output_size
    return f"{width}x{height}"


def run_bench(task: Task, images: Sequence[Path], archs: Sequence[Arch], config: NetConfig, settings: FitSettings,
              crop: int | None = None, run: RunInfo | None = None, callbacks: tuple = (),
              on_fit_start: Callable[[str], None] | None = None, out_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per (image, arch) plus one baseline row per image (the task's naive restoration)."""
    rows: list[dict[str, Any]] = []
    for problem in bench_problems(task, images, crop, settings.seed):
        baseline = task.metrics(task.baseline(problem), problem.clean)
        rows.append({"image": problem.name, "size": size_label(problem), "arch": task.baseline_name,
                     "baseline": True, **baseline, "error": None})
        for arch in archs:
            if on_fit_start is not None:
                on_fit_start(f"{Path(problem.name).stem}/{arch.label}")
            row, result = fit_row(task, problem, arch, config, settings, run, callbacks)
            rows.append(row)
            if out_dir is not None and result is not None:
                label = arch.label.replace(":", "-")
                save_image(out_dir / f"{Path(problem.name).stem}_{task.name}_{label}.png", result.output)
    return rows


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
        for key in (*keys, "stop_step", "seconds"):
            values = [row[key] for row in good if row.get(key) is not None]
            entry[key] = sum(values) / len(values) if values else None
        summary.append(entry)
    return summary


def format_table(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[str]:
    """Text table lines for rows of one image or for means; ``keys`` are the score, its oracle and SSIM."""

    def cell(value: Any, digits: int) -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"

    score, oracle, similarity = keys
    lines = [f"  {'arch':24} {score.upper():>7} {score.upper() + ' max*':>10} {similarity.upper():>7} "
             f"{'step':>6} {'seconds':>9}"]
    for row in rows:
        if row.get("error"):
            lines.append(f"  {row['arch']:24} failed: {row['error']}")
            continue
        lines.append(f"  {row['arch']:24} {cell(row.get(score), 2):>7} {cell(row.get(oracle), 2):>10} "
                     f"{cell(row.get(similarity), 4):>7} {cell(row.get('stop_step'), 0):>6} "
                     f"{cell(row.get('seconds'), 1):>9}")
    return lines
