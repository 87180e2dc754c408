"""Where and in which precision a fit runs: device names and the bf16 decision."""

from __future__ import annotations

import torch

from nasdip.errors import NasdipError


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively (CPUs with AVX-512 BF16/AMX through oneDNN, GPUs from Ampere)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


#: Below this much work per fitting step on a CPU (output pixels x network width) ``auto`` keeps fp32 even where
#: bf16 is native: on a 2-core AVX-512 BF16 CPU a 64x64, width 16 step is 1.1-1.2x faster in fp32, 64x64 at width
#: 32 takes the same time in both, and from 96x96 at width 32 up bf16 is 1.2-1.8x faster.
BF16_MIN_WORK = 2**17


def resolve_precision(name: str, device: torch.device, work: int | None = None) -> str:
    """``auto`` -> ``bf16`` where the device supports it natively (on CPUs, for steps of at least
    :data:`BF16_MIN_WORK` pixels x width; 2-3x faster per step at 128x128 and up, final PSNR of ``dip-skip`` within
    0.1 dB of fp32 on average: benchmarks/speed.py and the speed results in the docs), else ``fp32``."""
    if name == "auto":
        small = device.type == "cpu" and work is not None and work < BF16_MIN_WORK
        return "bf16" if bf16_supported(device) and not small else "fp32"
    return name


def device_problem(device: torch.device) -> str | None:
    """Why this process cannot compute on ``device`` (``None`` when it can): a torch build without the device's
    backend, no such device on this machine, or a device that holds no data (``meta``). Checked without touching
    the device, so no CUDA context is created in a process that only checks."""
    if device.type == "cpu":
        return None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
        return None
    if device.type == "mps":
        if not torch.backends.mps.is_built():
            return "this torch build has no MPS support"
        return None if torch.backends.mps.is_available() else "MPS is not available on this machine"
    if device.type == "meta":
        return "the meta device holds no data"
    backend = getattr(torch, device.type, None)  # xpu and other accelerators with an ``is_available``
    is_available = getattr(backend, "is_available", None)
    if callable(is_available) and is_available():
        return None
    return f"this torch build or machine has no {device.type} device"


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; a device that does not parse, that this torch build lacks or
    that this machine does not have is a one-line error naming it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise NasdipError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    problem = device_problem(device)
    if problem is not None:
        raise NasdipError(f"device {name!r} requested but {problem}; use --device cpu")
    return device
