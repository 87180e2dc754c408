"""One restoration from problem to files: fit (whole or in tiles), write the outputs atomically, report; and warn
when the restoration looks wrong although the fit finished (saturated, or the loss far above its best)."""

from __future__ import annotations

import math
import statistics
import warnings
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

#: A restoration is saturated when at least this fraction of its values are 0 or 255 once written (and the
#: observation's are not): a learning rate so high that the output stuck at the sigmoid's ends.
SATURATED_FRACTION = 0.9
#: A fit ends "far above its best" when its last losses are this many dB above the lowest one.
LOSS_RISE_DB = 3.0
#: How many of the last losses stand for the final loss (their median: one jittered step is no verdict).
FINAL_LOSSES = 10


def saturated_fraction(image: torch.Tensor) -> float:
    """The fraction of ``image``'s values that are 0 or 255 once written as 8 bits."""
    image = image.detach().float()
    return float(((image < 0.5 / 255) | (image > 1 - 0.5 / 255)).float().mean())


def loss_rise_db(losses: Sequence[float]) -> tuple[float, int] | None:
    """How far (dB) the final losses (the median of the last :data:`FINAL_LOSSES`, at most half the fit) lie above
    the lowest loss before them, and the step of that lowest one (1-based); ``None`` when the lowest loss is among
    the final ones (the fit ended at its best) or without enough finite, positive losses."""
    finite = [(loss, step) for step, loss in enumerate(losses, start=1) if math.isfinite(loss) and loss > 0]
    window = min(FINAL_LOSSES, len(finite) // 2)
    if window < 1:
        return None
    earlier, final = finite[:-window], finite[-window:]
    best, step = min(earlier)
    if best <= min(final)[0]:
        typical = statistics.median(loss for loss, _ in final)
        return 10 * math.log10(typical / best), step
    return None


def fit_warning(request: FitRequest, result: FitResult) -> str | None:
    """One line when a finished fit looks wrong (a saturated restoration, a final loss far above the best),
    suggesting a lower ``--lr``; ``None`` when it looks sound."""
    symptoms = []
    fraction = saturated_fraction(result.output)
    if fraction >= SATURATED_FRACTION and fraction - saturated_fraction(request.problem.observation) >= 0.5:
        symptoms.append(f"the restoration is saturated ({fraction:.0%} of its values are 0 or 255)")
    rise = loss_rise_db(result.losses)
    if rise is not None and rise[0] > LOSS_RISE_DB:
        symptoms.append(f"the fit's final loss is {rise[0]:.1f} dB above its best (step {rise[1]})")
    if not symptoms:
        return None
    return (f"{' and '.join(symptoms)}: learning rate {request.settings.lr:g} is likely too high; try a lower --lr "
            f"(the task's default is {request.task.settings().lr:g})")


def warn_about(request: FitRequest, result: FitResult, label: str | None = None) -> list[str]:
    """Issue :func:`fit_warning` as a one-line ``nasdip:`` warning (prefixed by ``label``); returns it in a list
    (empty when the fit looks sound)."""
    line = fit_warning(request, result)
    if line is None:
        return []
    line = f"{label}: {line}" if label else line
    warnings.warn(f"nasdip: {line}", RuntimeWarning, stacklevel=3)
    return [line]


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


#: Height, in pixels, a gallery's restorations are shown at when they are smaller (nearest-neighbour enlarged).
GALLERY_HEIGHT = 160


def gallery(task: Task, problems: Sequence[Problem], outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Several restorations side by side, each at least :data:`GALLERY_HEIGHT` pixels high (enlarged by nearest
    neighbours, all to one height), captioned with its image's name and, when its ground truth is known, the task's
    score."""
    height = max(GALLERY_HEIGHT, *(output.shape[-2] for output in outputs))
    panels = []
    for problem, output in zip(problems, outputs, strict=True):
        output = output.detach().float().cpu().clamp(0, 1)
        caption: tuple[str, ...] = (problem.name,)
        if problem.clean is not None and problem.clean.shape[-2:] == output.shape[-2:]:  # not a self-validation fit's
            caption += (f"{task.score_name.upper()} {float(task.score(output, problem.clean.cpu())):.2f} "
                        f"{task.score_unit}",)
        width = max(1, round(output.shape[-1] * height / output.shape[-2]))
        panels.append(Panel(F.interpolate(output, size=(height, width), mode="nearest"), caption))
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
        "compiled": result.compiled, "cuda_graphs": result.cuda_graphs, "width": request.config.width,
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
    found: list[str] = []
    for arch in compare:
        run = None if request.run is None else request.run.child(f"{request.problem.name}/{arch.label}",
                                                                **request.run.images)
        compared[arch.label] = fit_or_tile(request.replace(arch=arch, run=run), tile, on_tile, seeds)
        found += warn_about(request, compared[arch.label], arch.label)
    result = fit_or_tile(request, tile, on_tile, seeds)
    found += warn_about(request, result, request.arch.label if compare else None)
    label = request.arch.label if compare else "restored"
    written = write_outputs(request.task, request.problem, result, out_dir, compared, label)
    entry = report(request, result, seeds)
    if compared:
        entry["compared"] = {name: {**other.metrics, "seconds": round(other.seconds, 3), "iters": other.iters}
                             for name, other in compared.items()}
    return result, {**entry, **written, "warnings": found}
