"""Memory estimates: refuse a fit that will not fit, before it starts, with a suggestion.

The estimate runs the model once on the meta device (nothing is allocated) and adds up the tensors autograd
saves for the backward pass, a margin for the loss and output buffers (a few output-sized tensors), plus four copies of the parameters (weights, gradients, Adam's two moments) and
the divergence guard's copies of weights and moments. It counts in float32, an upper bound for bf16 runs.
``K`` fits packed in one network (:mod:`nasdip.fit.packed`) need ``K`` times that, plus the packed optimiser's
flat buffers and member indices (:data:`PACKED_PARAMETER_COPIES` more parameter-sized buffers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from nasdip.errors import NasdipError
from nasdip.fit.tiling import windows

if TYPE_CHECKING:
    from nasdip.fit.request import FitRequest

GIB = 1024**3
#: Measured peak RSS growth over the estimate (nasdip-denoise at 384x384, width 64, CPU: 2083 / 1407 MiB):
#: temporaries of the backward pass and allocator slack.
OVERHEAD = 1.5
#: Fraction of the free memory a run may plan to use.
HEADROOM = 0.9
#: Parameter-sized buffers a packed fit adds per member: owner and member indices (int64, 2 each), the per-value
#: step factors and Adam's temporaries (4).
PACKED_PARAMETER_COPIES = 8


def estimate_fit_bytes(request: FitRequest, members: int = 1) -> int:
    """Bytes one fitting step of the request needs (activations saved for backward, parameters, optimiser), for
    ``members`` fits packed together."""
    task, problem, config = request.task, request.problem, request.config
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    meta_problem = problem.to("meta")
    with torch.device("meta"):
        model = task.build_model(request.arch, config, meta_problem)
        depth = getattr(model, "input_depth", config.input_depth)
        z = torch.empty(1, depth, *problem.output_size)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            output = model(z)
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    total = saved + 7 * parameters + 8 * output.numel() * output.element_size()  # + loss, average, buffers
    if members > 1:
        total = members * (total + PACKED_PARAMETER_COPIES * parameters)
    return int(OVERHEAD * total)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (``MemAvailable`` for the CPU on Linux), or ``None`` when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


#: Tile sides tried (largest first) when suggesting ``--tile``.
TILE_SIDES = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48, 32, 16)


def largest_fitting_tile(request: FitRequest, budget: float, members: int = 1) -> int | None:
    """The largest ``--tile`` side (of :data:`TILE_SIDES`) whose windows fit in ``budget`` bytes, or ``None``."""
    task, problem = request.task, request.problem
    for side in TILE_SIDES:
        if side >= max(problem.observation.shape[-2:]):
            continue
        try:
            piece = windows(problem, side, task.name)[0].crop(problem)
        except NasdipError:
            return None  # the task cannot be tiled
        if estimate_fit_bytes(request.replace(problem=piece), members) <= budget:
            return side
    return None


def check_fits_in_memory(request: FitRequest, tile: int | None = None, members: int = 1) -> int:
    """The estimate in bytes of the fit (of one ``tile`` window when tiled; of ``members`` fits packed together,
    ``restore --seeds``) on the request's device; raises a one-line error with advice that works for this input
    when it exceeds the free memory."""
    task, problem, arch, config, device = request.task, request.problem, request.arch, request.config, request.device
    piece = problem
    if tile is not None and max(problem.observation.shape[-2:]) > tile:
        piece = windows(problem, tile, task.name)[0].crop(problem)  # the first window is a largest one
    needed = estimate_fit_bytes(request.replace(problem=piece), members)
    free = available_bytes(device)
    if free is None or needed <= HEADROOM * free:
        return needed
    height, width = piece.output_size
    what = f"a {tile}-pixel tile ({width}x{height})" if piece is not problem else f"{width}x{height}"
    if members > 1:
        what += f" with {members} seeds at once"
    side = largest_fitting_tile(request, HEADROOM * free, members)
    fewer = f"fewer --seeds (now {members}), " if members > 1 else ""
    if side is not None:
        advice = f"use --tile {side}, {fewer}a smaller --width (now {config.width}), or --crop"
    else:
        advice = f"use {fewer}a smaller --width (now {config.width}) or --crop (no tile size fits either)"
    raise NasdipError(f"restoring {what} with {arch.label} at width {config.width} needs about {needed / GIB:.1f} GiB "
                      f"but {device} has {free / GIB:.1f} GiB free; {advice}")
