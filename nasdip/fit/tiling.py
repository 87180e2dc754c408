"""Tiled restoration: restore overlapping windows of a large observation separately and blend them.

Windows of ``tile x tile`` observation pixels overlap by ``tile // 8``; each is restored by the task's own fit,
and the restorations are blended with linear ramps across the overlaps. Extras of the problem at the output
size (an inpainting mask, ...) are cropped with the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from nasdip.errors import NasdipError
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of windows of ``tile`` covering ``[0, length)``, consecutive ones overlapping by ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def tile_count(size: tuple[int, int], tile: int) -> int:
    """How many windows :func:`restore_tiled` fits for an observation of ``size``."""
    return len(tile_starts(size[0], tile, tile // 8)) * len(tile_starts(size[1], tile, tile // 8))


def ramp(length: int, fade: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """Blending weights: 1 inside, rising over ``fade`` pixels at a start and falling at an end that overlaps."""
    weights = torch.ones(length)
    if fade > 0:
        rising = torch.linspace(1.0 / (fade + 1), fade / (fade + 1), fade)
        if at_start:
            weights[:fade] = rising
        if at_end:
            weights[-fade:] = rising.flip(0)
    return weights


@dataclass
class Window:
    """One tile: its observation-space position and size, and the output scale."""

    top: int
    left: int
    height: int
    width: int
    scale: int

    @property
    def output_slice(self) -> tuple[slice, slice, slice, slice]:
        s = self.scale
        return (slice(None), slice(None), slice(self.top * s, (self.top + self.height) * s),
                slice(self.left * s, (self.left + self.width) * s))

    def crop(self, problem: Problem) -> Problem:
        """The window's sub-problem (output-sized tensors cropped alike)."""
        window = self.output_slice

        def cut(tensor: torch.Tensor) -> torch.Tensor:
            return tensor[window] if tuple(tensor.shape[-2:]) == problem.output_size else tensor

        return Problem(problem.observation[..., self.top : self.top + self.height, self.left : self.left + self.width],
                       (self.height * self.scale, self.width * self.scale),
                       clean=None if problem.clean is None else problem.clean[window],
                       name=f"{problem.name}@{self.top},{self.left}", info=problem.info,
                       extras={key: cut(value) for key, value in problem.extras.items()})

    def blend(self, overlap: int, observed: tuple[int, int]) -> torch.Tensor:
        """``(1, 1, h, w)`` weights of this window's restoration."""
        s = self.scale
        rows = ramp(self.height * s, overlap * s, self.top > 0, self.top + self.height < observed[0])
        cols = ramp(self.width * s, overlap * s, self.left > 0, self.left + self.width < observed[1])
        return torch.outer(rows, cols)[None, None]


def windows(problem: Problem, tile: int, task_name: str) -> list[Window]:
    """The tiles covering ``problem``'s observation."""
    obs_h, obs_w = problem.observation.shape[-2:]
    out_h, out_w = problem.output_size
    scale = out_h // obs_h
    if out_h != scale * obs_h or out_w != scale * obs_w:
        raise NasdipError(f"task {task_name!r} cannot be restored in tiles (output is not a multiple of the input)")
    overlap = tile // 8
    return [Window(top, left, min(tile, obs_h), min(tile, obs_w), scale)
            for top in tile_starts(obs_h, tile, overlap) for left in tile_starts(obs_w, tile, overlap)]


def restore_tiled(request: FitRequest, tile: int, on_tile: Callable[[str], None] | None = None,
                  fit: Callable[[FitRequest], FitResult] | None = None) -> FitResult:
    """Restore the windows of the request's problem one by one and blend them into one result (``fit`` restores
    one window's request; default ``task.fit``)."""
    task, problem = request.task, request.problem
    observed = tuple(problem.observation.shape[-2:])
    out_h, out_w = problem.output_size
    weight = torch.zeros(1, 1, out_h, out_w)
    sums: dict[str, torch.Tensor] = {}
    results: list[FitResult] = []
    for window in windows(problem, tile, task.name):
        piece = window.crop(problem)
        if on_tile is not None:
            on_tile(piece.name)
        result = (fit or task.fit)(request.replace(problem=piece))
        blend = window.blend(tile // 8, observed)
        for name, image in {"output": result.output, **result.extras}.items():
            sums.setdefault(name, torch.zeros(1, image.shape[1], out_h, out_w))[window.output_slice] += image * blend
        weight[window.output_slice] += blend
        results.append(result)
    output = sums.pop("output") / weight
    metrics: dict[str, float] = {}
    if problem.clean is not None:
        metrics = task.metrics(output, problem.clean)
        metrics[f"{task.score_name}_max"] = metrics[task.score_name]
        metrics[f"{task.score_name}_max_step"] = max(result.iters for result in results)
    last = results[-1]
    return FitResult(output=output, metrics=metrics, losses=[], scores=[], iters=max(r.iters for r in results),
                     seconds=sum(r.seconds for r in results), rollbacks=sum(r.rollbacks for r in results),
                     settings=request.settings, device=last.device, precision=last.precision,
                     extras={name: image / weight for name, image in sums.items()})
