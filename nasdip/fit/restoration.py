"""One restoration from problem to files: fit (whole or in tiles), write the outputs atomically, report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nasdip.arch.document import Arch
from nasdip.fit.ensemble import fit_seeds
from nasdip.fit.memory import check_fits_in_memory
from nasdip.fit.packed import can_pack
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.task import Task
from nasdip.fit.tiling import restore_tiled
from nasdip.io.images import save_image
from nasdip.io.panels import Panel, side_by_side


def comparison(task: Task, problem: Problem, restorations: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Side by side: observation (nearest-upscaled) | baseline (if different) | each restoration, in order, under
    its label | ground truth, each captioned with its name and, when the ground truth is known, its PSNR (the
    task's metric)."""
    size = problem.output_size
    clean = None if problem.clean is None else problem.clean.cpu()

    def panel(name: str, image: torch.Tensor, scored: bool = True) -> Panel:
        image = image.cpu()
        score = () if clean is None or not scored else (f"PSNR {task.metrics(image, clean)['psnr']:.2f} dB",)
        return Panel(image.clamp(0, 1), (name, *score))

    observation = problem.observation.cpu()
    baseline = task.baseline(problem).cpu()
    separate = tuple(baseline.shape[-2:]) == size and not torch.equal(baseline, observation)
    name = "input" if separate or task.baseline_name == "input" else f"input ({task.baseline_name})"
    panels = [panel(name, F.interpolate(observation, size=size, mode="nearest"), tuple(observation.shape[-2:]) == size)]
    if separate:
        panels.append(panel(task.baseline_name, baseline))
    panels.extend(panel(label, restored) for label, restored in restorations.items())
    if clean is not None:
        panels.append(Panel(clean.clamp(0, 1), ("ground truth",)))
    return side_by_side(panels)


def fit_or_tile(request: FitRequest, tile: int | None = None, on_tile: Callable[[str], None] | None = None,
                seeds: int = 1) -> FitResult:
    """Fit the request's problem whole, or in tiles when ``tile`` is smaller than the observation; with ``seeds``
    above 1, every fit is the average of that many fits from consecutive seeds
    (:func:`nasdip.fit.ensemble.fit_seeds`, packed together). A fit (or a tile's fit) that would not fit in
    memory is refused first."""
    check_fits_in_memory(request, tile, members=seeds if can_pack(request.task) else 1)

    def fit(piece: FitRequest) -> FitResult:
        return fit_seeds(piece, seeds)

    if tile is not None and max(request.problem.observation.shape[-2:]) > tile:
        return restore_tiled(request, tile, on_tile=on_tile, fit=fit)
    return fit(request)


def write_outputs(task: Task, problem: Problem, result: FitResult, out_dir: Path,
                  compared: Mapping[str, FitResult] | None = None, label: str = "restored") -> dict[str, str]:
    """The restored image (the input's bit depth), its extras and a comparison PNG (the ``compared``
    restorations, by label, before this one, labelled ``label``); returns their paths. A file that cannot be
    written where asked is saved in a temporary folder instead (said on stderr): a finished fit is never lost."""
    bits = problem.info.bits if problem.info else 8
    stem = f"{problem.name}_{task.name}"
    written = {"output": str(save_image(out_dir / f"{stem}.png", result.output, bits, rescue=True))}
    for key, tensor in result.extras.items():
        written[key] = str(save_image(out_dir / f"{stem}_{key}.png", tensor, bits, rescue=True))
    panels = {name: other.output for name, other in (compared or {}).items()} | {label: result.output}
    written["comparison"] = str(save_image(out_dir / f"{stem}_comparison.png", comparison(task, problem, panels),
                                           rescue=True))
    return written


def report(request: FitRequest, result: FitResult, seeds: int = 1) -> dict[str, Any]:
    """What ``restore --json`` prints: the run's settings, metrics (oracle labelled ``_max``) and timings."""
    task, problem, settings = request.task, request.problem, request.settings
    name = task.score_name
    entry: dict[str, Any] = {
        "task": task.name, "options": dict(task.values), "arch": request.arch.label, "image": problem.name,
        **{key: result.metrics.get(key) for key in (name, "ssim", f"{name}_max", f"{name}_max_step")},
        **{key: value for key, value in result.metrics.items() if key not in (name, "ssim")},
        "iters": result.iters, "stop": settings.stop, "stop_reason": result.stop_reason,
        "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds / max(result.iters, 1), 5), "rollbacks": result.rollbacks,
        "seed": settings.seed, "device": result.device, "precision": result.precision,
        "compiled": result.compiled, "width": request.config.width,
        "seeds": seeds,
    }
    if problem.clean is not None:
        baseline = task.metrics(task.baseline(problem).cpu(), problem.clean.cpu())
        for key, value in baseline.items():
            entry[f"{task.baseline_name}_{key}"] = value
    return entry


def restore(request: FitRequest, out_dir: Path, tile: int | None = None,
            on_tile: Callable[[str], None] | None = None, seeds: int = 1,
            compare: Sequence[Arch] = ()) -> tuple[FitResult, dict[str, Any]]:
    """Fit (see :func:`fit_or_tile`), then write the outputs into ``out_dir``; returns the result and report.

    Each architecture of ``compare`` (e.g. DIP's own network) restores the same observation with the same
    settings first; the comparison picture shows them beside this restoration and the report gives their metrics
    under ``compared``."""
    compared: dict[str, FitResult] = {}
    for arch in compare:
        run = None if request.run is None else request.run.child(f"{request.problem.name}/{arch.label}",
                                                                **request.run.images)
        compared[arch.label] = fit_or_tile(request.replace(arch=arch, run=run), tile, on_tile, seeds)
    result = fit_or_tile(request, tile, on_tile, seeds)
    label = request.arch.label if compare else "restored"
    written = write_outputs(request.task, request.problem, result, out_dir, compared, label)
    entry = report(request, result, seeds)
    if compared:
        entry["compared"] = {name: {**other.metrics, "seconds": round(other.seconds, 3), "iters": other.iters}
                             for name, other in compared.items()}
    return result, {**entry, **written}
