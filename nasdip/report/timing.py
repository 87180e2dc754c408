"""Timing and peak memory of fitting steps: windows of steps after a warm-up, the device synchronised around
each, and the machine every number needs beside it (processor, bf16 support, torch, threads)."""

from __future__ import annotations

import contextlib
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from nasdip.fit.device import bf16_supported


@dataclass
class StepTiming:
    """Per-step seconds over timing windows, and peak memory (GPU allocator, or the process's resident set,
    imports included)."""

    label: str
    precision: str
    samples: list[float]
    peak_bytes: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.samples), max(self.samples)

    def to_dict(self) -> dict:
        return {"label": self.label, "precision": self.precision, "median_s": self.median,
                "min_s": self.spread[0], "max_s": self.spread[1], "peak_bytes": self.peak_bytes}


STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def peak_memory(device: torch.device) -> int:
    """Peak bytes since the last :func:`reset_peak_memory`: the CUDA allocator's, or the resident set's."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    if STATUS.exists():  # Linux: the resident high-water mark
        return int(re.search(r"VmHWM:\s+(\d+) kB", STATUS.read_text()).group(1)) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: the process's peak so far


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: reset the CUDA allocator's statistics, or on Linux the resident high-water mark."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    elif CLEAR_REFS.exists():
        with contextlib.suppress(OSError):
            CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident set


def machine_description(device: torch.device) -> str:
    """The processor (or GPU), whether it computes bf16 natively, torch's version and threads: the context every
    timing needs."""
    if device.type == "cuda":
        processor = torch.cuda.get_device_name(device)
    else:
        processor = platform.processor() or "unknown CPU"
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.exists():
            found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
            processor = found.group(1).strip() if found else processor
    native = "native bf16" if bf16_supported(device) else "no native bf16"
    return f"{processor} ({native}), torch {torch.__version__}, {torch.get_num_threads()} threads"


def time_stepper(stepper, device: torch.device, warmup: int, windows: int, window: int) -> list[float]:
    """Per-step seconds of ``stepper`` (a :class:`nasdip.fit.engine.Fitter` or :class:`nasdip.fit.packed.PackedFitter`:
    ``step``, ``due``, ``synchronise``), synchronisations included, over ``windows`` windows after ``warmup``."""

    def advance() -> None:
        stepper.step()
        if stepper.due():
            stepper.synchronise()

    return time_windows(advance, device, warmup, windows, window)


def time_windows(step: Callable[[], None], device: torch.device, warmup: int, windows: int,
                 window: int) -> list[float]:
    """Per-step seconds of ``step`` over ``windows`` windows of ``window`` steps after ``warmup`` steps (the
    device synchronised around each window)."""
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(windows):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(window):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        samples.append((time.perf_counter() - start) / window)
    return samples
