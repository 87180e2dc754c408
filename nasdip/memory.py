"""Memory estimates: refuse a fit that will not fit, before it starts, with a suggestion.

The estimate runs the model once on the meta device (nothing is allocated) and adds up the tensors autograd
saves for the backward pass, a margin for the loss and output buffers (a few output-sized tensors), plus four copies of the parameters (weights, gradients, Adam's two moments) and
the divergence guard's copies of weights and moments. It counts in float32, an upper bound for bf16 runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    from nasdip.arch import Arch
    from nasdip.nn.config import NetConfig
    from nasdip.task import Problem, Task

GIB = 1024**3
#: Measured peak RSS growth over the estimate (nasdip-denoise at 384x384, width 64, CPU: 2083 / 1407 MiB):
#: temporaries of the backward pass and allocator slack.
OVERHEAD = 1.5
#: Fraction of the free memory a run may plan to use.
HEADROOM = 0.9


def estimate_fit_bytes(task: Task, problem: Problem, arch: Arch, config: NetConfig) -> int:
    """Bytes one fitting step of ``problem`` needs (activations saved for backward, parameters, optimiser)."""
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    meta_problem = problem.to("meta")
    with torch.device("meta"):
        model = task.build_model(arch, config, meta_problem)
        depth = getattr(model, "input_depth", config.input_depth)
        z = torch.empty(1, depth, *problem.output_size)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            output = model(z)
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    total = saved + 7 * parameters + 8 * output.numel() * output.element_size()  # + loss, average, buffers
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


def check_fits_in_memory(task: Task, problem: Problem, arch: Arch, config: NetConfig, device: torch.device) -> int:
    """The estimate in bytes; raises a one-line error with suggestions when it exceeds the free memory."""
    needed = estimate_fit_bytes(task, problem, arch, config)
    free = available_bytes(device)
    if free is not None and needed > HEADROOM * free:
        height, width = problem.output_size
        raise NasdipError(
            f"restoring {width}x{height} with {arch.label} at width {config.width} needs about {needed / GIB:.1f} GiB "
            f"but {device} has {free / GIB:.1f} GiB free; use --tile (e.g. --tile {max(64, min(height, width) // 2)}), "
            f"a smaller --width, or --crop"
        )
    return needed
