"""Whether a fit compiles its network (``torch.compile``) and replays its step as a CUDA graph: ``auto`` decides
from the measurements (device, precision, work per step, step count); ``True`` and ``False`` force it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    import torch

#: The values of an acceleration switch (``FitSettings.compile``, ``FitSettings.cuda_graphs``).
SWITCHES = ("auto", True, False)
#: ``torch.compile`` pays for fp32 CPU fits of at least this much work per step (output pixels x width): at 256x256,
#: width 128 the compiled fp32 step was 1.12-1.26x faster than the eager one; at 128x128 it was no faster and in
#: bf16 it was slower (the speed results in the docs).
COMPILE_MIN_WORK = 256 * 256 * 128
#: ... and at least this many steps: its minute of compilation is repaid after about 250 steps at 256x256.
COMPILE_MIN_STEPS = 1000
#: CUDA graphs for fits of at most this much work per step (128x128 at width 128, the search fidelities well
#: below it), where launching a step's hundreds of small kernels costs more than their arithmetic.
GRAPH_MAX_WORK = 128 * 128 * 128


def check_switch(name: str, value: object) -> None:
    """A one-line error unless ``value`` is ``auto``, ``True`` or ``False``."""
    if not (isinstance(value, bool) or value == "auto"):
        raise NasdipError(f"{name} must be auto, True or False, got {value!r}")


def resolve_compile(setting: bool | str, device: torch.device, precision: str, work: int, iters: int) -> bool:
    """Whether to compile the network: ``auto`` compiles fp32 fits on a CPU of at least :data:`COMPILE_MIN_WORK`
    and :data:`COMPILE_MIN_STEPS` (where it was measured to pay), nothing else."""
    if setting != "auto":
        return bool(setting)
    return device.type == "cpu" and precision == "fp32" and work >= COMPILE_MIN_WORK and iters >= COMPILE_MIN_STEPS


def resolve_cuda_graphs(setting: bool | str, device: torch.device, compiled: bool, work: int) -> bool:
    """Whether to capture the fitting step as a CUDA graph: only on CUDA and for an eager network (a compiled one
    makes its own graphs); ``auto`` for steps of at most :data:`GRAPH_MAX_WORK`."""
    if device.type != "cuda" or compiled or setting is False:
        return False
    return setting is True or work <= GRAPH_MAX_WORK
