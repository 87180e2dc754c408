"""One restoration from start to files: build the problem from user inputs, fit, write outputs atomically."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from nasdip.arch import Arch
from nasdip.errors import NasdipError
from nasdip.events import RunInfo
from nasdip.fit import FitResult, FitSettings
from nasdip.imageio import ImageInfo, builtin_photo, center_crop, load_image, save_image
from nasdip.nn.config import NetConfig
from nasdip.task import Problem, Task

BUILTIN_NAME = "grace_hopper"
#: Side of the centre crop of the built-in photo when ``--crop`` is not given (small enough for a CPU).
BUILTIN_CROP = 128


def generator(seed: int) -> torch.Generator:
    """The CPU generator that draws degradations (noise, masks) for ``seed``."""
    return torch.Generator().manual_seed(seed)


def crop_square(image: torch.Tensor, side: int | None) -> torch.Tensor:
    """Centre crop to ``side x side`` (each side capped at the image's)."""
    if side is None:
        return image
    return center_crop(image, min(side, image.shape[-2]), min(side, image.shape[-1]))


def builtin_problem(task: Task, seed: int, crop: int | None = None) -> Problem:
    """The built-in photograph, centre-cropped and degraded by ``task``; its clean original is the truth."""
    photo, _ = builtin_photo()
    clean = task.prepare_clean(crop_square(photo, crop or BUILTIN_CROP))
    problem = task.degrade(clean, generator(seed), name=BUILTIN_NAME)
    return replace(problem, info=ImageInfo(None, clean.shape[1], 8))


def user_problem(task: Task, image: Path, ground_truth: Path | None = None) -> Problem:
    """A degraded image the user has (and optionally its ground truth)."""
    observation, info = load_image(image)
    problem = task.observe(observation, info, name=Path(image).stem)
    if ground_truth is None:
        return problem
    clean, _ = load_image(ground_truth)
    if clean.shape[1] != problem.channels:
        raise NasdipError(f"{ground_truth}: has {clean.shape[1]} channels but the image has {problem.channels}")
    if tuple(clean.shape[-2:]) != problem.output_size:
        clean = task.prepare_clean(clean)
    if tuple(clean.shape[-2:]) != problem.output_size:
        height, width = problem.output_size
        raise NasdipError(
            f"{ground_truth}: ground truth is {clean.shape[-1]}x{clean.shape[-2]} but the restoration is {width}x{height}"
        )
    return replace(problem, clean=clean)


def comparison(task: Task, problem: Problem, restored: torch.Tensor) -> torch.Tensor:
    """Side by side: observation (nearest-upscaled) | baseline (if different) | restored | ground truth, each
    captioned with its name and, when the ground truth is known, its PSNR (the task's metric)."""
    from nasdip.panels import Panel, side_by_side

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
    panels.append(panel("restored", restored))
    if clean is not None:
        panels.append(Panel(clean.clamp(0, 1), ("ground truth",)))
    return side_by_side(panels)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of windows of ``tile`` covering ``[0, length)``, consecutive ones overlapping by ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _ramp(length: int, fade: int, at_start: bool, at_end: bool) -> torch.Tensor:
    weights = torch.ones(length)
    if fade > 0:
        ramp = torch.linspace(1.0 / (fade + 1), fade / (fade + 1), fade)
        if at_start:
            weights[:fade] = ramp
        if at_end:
            weights[-fade:] = ramp.flip(0)
    return weights


def restore_tiled(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings, tile: int,
                  run: RunInfo | None = None, callbacks: tuple = (), on_tile=None) -> FitResult:
    """Restore overlapping ``tile x tile`` windows of the observation independently and blend them with linear
    ramps across the overlaps (1/8 of the tile): images too large for memory restore piece by piece."""
    obs_h, obs_w = problem.observation.shape[-2:]
    out_h, out_w = problem.output_size
    scale = out_h // obs_h
    if out_h != scale * obs_h or out_w != scale * obs_w:
        raise NasdipError(f"task {task.name!r} cannot be restored in tiles (output is not a multiple of the input)")
    overlap = tile // 8
    total: torch.Tensor | None = None
    weight = torch.zeros(1, 1, out_h, out_w)
    extras: dict[str, torch.Tensor] = {}
    seconds, rollbacks, device, precision = 0.0, 0, "cpu", "fp32"
    rows, cols = tile_starts(obs_h, tile, overlap), tile_starts(obs_w, tile, overlap)
    for top in rows:
        for left in cols:
            height, width = min(tile, obs_h), min(tile, obs_w)
            window = (slice(None), slice(None), slice(top * scale, (top + height) * scale),
                      slice(left * scale, (left + width) * scale))
            piece = Problem(problem.observation[..., top : top + height, left : left + width],
                            (height * scale, width * scale),
                            clean=None if problem.clean is None else problem.clean[window],
                            mask=None if problem.mask is None else problem.mask[window],
                            name=f"{problem.name}@{top},{left}", info=problem.info)
            if on_tile is not None:
                on_tile(piece.name)
            result = task.fit(piece, arch, config, settings, run=run, callbacks=callbacks)
            blend = torch.outer(_ramp(height * scale, overlap * scale, top > 0, top + height < obs_h),
                                _ramp(width * scale, overlap * scale, left > 0, left + width < obs_w))[None, None]
            if total is None:
                total = torch.zeros(1, result.output.shape[1], out_h, out_w)
            total[window] += result.output * blend
            weight[window] += blend
            for name, image in result.extras.items():
                extras.setdefault(name, torch.zeros(1, image.shape[1], out_h, out_w))[window] += image * blend
            seconds, rollbacks = seconds + result.seconds, rollbacks + result.rollbacks
            device, precision = result.device, result.precision
    output = total / weight
    metrics: dict[str, float] = {}
    if problem.clean is not None:
        metrics = task.metrics(output, problem.clean)
        metrics["psnr_max"], metrics["psnr_max_step"] = metrics["psnr"], settings.iters
    return FitResult(output=output, metrics=metrics, losses=[], scores=[], iters=settings.iters, seconds=seconds,
                     rollbacks=rollbacks, settings=settings, device=device,
                     extras={name: image / weight for name, image in extras.items()}, precision=precision)


def restore(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
            out_dir: Path, run: RunInfo | None = None, callbacks: tuple = (),
            tile: int | None = None, on_tile=None) -> tuple[FitResult, dict[str, Any]]:
    """Fit (in tiles when ``tile`` is smaller than the observation), then write the restored image (input's bit
    depth), extras and a comparison PNG into ``out_dir``. A run that would not fit in memory is refused first."""
    from nasdip.fit import resolve_device
    from nasdip.memory import check_fits_in_memory

    tiled = tile is not None and max(problem.observation.shape[-2:]) > tile
    if not tiled:
        check_fits_in_memory(task, problem, arch, config, resolve_device(settings.device))
        result = task.fit(problem, arch, config, settings, run=run, callbacks=callbacks)
    else:
        result = restore_tiled(task, problem, arch, config, settings, tile, run=run, callbacks=callbacks,
                               on_tile=on_tile)
    bits = problem.info.bits if problem.info else 8
    stem = f"{problem.name}_{task.name}"
    written = {"output": str(save_image(out_dir / f"{stem}.png", result.output, bits))}
    for key, tensor in result.extras.items():
        written[key] = str(save_image(out_dir / f"{stem}_{key}.png", tensor, bits))
    written["comparison"] = str(save_image(out_dir / f"{stem}_comparison.png", comparison(task, problem, result.output)))
    report: dict[str, Any] = {
        "task": task.name,
        "options": dict(task.values),
        "arch": arch.label,
        "image": problem.name,
        "psnr": result.metrics.get("psnr"),
        "ssim": result.metrics.get("ssim"),
        "psnr_max": result.metrics.get("psnr_max"),
        "psnr_max_step": result.metrics.get("psnr_max_step"),
        "iters": result.iters,
        "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds / max(result.iters, 1), 5),
        "rollbacks": result.rollbacks,
        "seed": settings.seed,
        "device": result.device,
        "precision": result.precision,
        "width": config.width,
        **written,
    }
    if problem.clean is not None:
        baseline = task.metrics(task.baseline(problem).cpu(), problem.clean.cpu())
        report[f"{task.baseline_name}_psnr"] = baseline["psnr"]
        report[f"{task.baseline_name}_ssim"] = baseline["ssim"]
    return result, report
