"""Seconds per fitting step: nasdip's engine against the straightforward loop of the same network, and packed
fits (:mod:`nasdip.packed_fit`) against the same fits one after another.

The straightforward loop is how the original DIP code runs: float32, eager, contiguous memory, PyTorch's
``interpolate`` for every upsampling, and after every step the output copied to the host to compute a PSNR
with NumPy. nasdip's path is :func:`nasdip.fit.fit` itself (precision ``auto``: bf16 autocast with channels-last
where the device supports it, grouped convolutions in fp32 on CPUs, bicubic upsampling as a convolution, host
synchronisation only every few steps). Both run in the same process on the same problem; each is warmed up and
timed over several windows, reported as median and spread.
"""

from __future__ import annotations

import contextlib
import itertools
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasdip.arch import Arch
from nasdip.device import resolve_device
from nasdip.fit import FitSettings, fit
from nasdip.nn.config import NetConfig
from nasdip.task import Problem, Task


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


def time_engine(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
                warmup: int = 3, windows: int = 5, window: int = 5) -> StepTiming:
    """Per-step seconds of :func:`nasdip.fit.fit`, timed between its synchronisation points."""
    device = resolve_device(settings.device)
    stamps: list[float] = []

    def stamp(step, metrics) -> None:
        stamps.append(time.perf_counter())

    reset_peak_memory(device)
    iters = window * (windows + max(1, -(-warmup // window)))
    result = fit(task, problem, arch, config, settings.replace(iters=iters, sync_every=window), callbacks=(stamp,))
    samples = [(b - a) / window for a, b in itertools.pairwise(stamps)][-windows:]
    return StepTiming("nasdip", result.precision, samples, peak_memory(device))


def time_plain(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
               warmup: int = 3, windows: int = 5, window: int = 5) -> StepTiming:
    """Per-step seconds of the straightforward DIP loop of the same network."""
    from nasdip.nn.build import build_network
    from nasdip.nn.cell import use_native_interpolation

    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    net = use_native_interpolation(build_network(arch, config.replace(out_channels=problem.channels))).to(device)
    problem = problem.to(device)
    z = torch.rand(1, config.input_depth, *problem.output_size, device=device) * settings.input_scale
    noise = z.clone()
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr)
    observation = problem.observation.detach().cpu().numpy()[0]

    def step() -> None:
        optimizer.zero_grad()
        out = net(z + noise.normal_() * settings.reg_noise)
        loss = task.loss(out, problem)
        loss.backward()
        restored = task.operator(out, problem).detach().cpu().numpy()[0]  # DIP's per-step PSNR on the host
        10 * np.log10(1.0 / np.mean((restored - observation) ** 2))
        loss.item()
        optimizer.step()

    reset_peak_memory(device)
    samples = time_windows(step, device, warmup, windows, window)
    return StepTiming("plain fp32", "fp32", samples, peak_memory(device))


def speed_rows(task: Task, archs: list[Arch], config: NetConfig, settings: FitSettings, sizes,
               compiled: bool = False) -> list[dict]:
    """Plain and nasdip timings for every arch at every size, on centre crops of the built-in photo; with
    ``compiled``, nasdip's engine is also timed with ``torch.compile`` (its compilation in the warm-up)."""
    from nasdip.problems import builtin_problem

    rows = []
    for size in sizes:
        problem = builtin_problem(task, settings.seed, size)
        for arch in archs:
            plain = time_plain(task, problem, arch, config, settings)
            fast = time_engine(task, problem, arch, config, settings.replace(compile=False))
            row = {"arch": arch.label, "size": size, "width": config.width, "plain": plain.to_dict(),
                   "nasdip": fast.to_dict(), "speedup": plain.median / fast.median}
            if compiled:
                faster = time_engine(task, problem, arch, config, settings.replace(compile=True))
                row.update(compiled=faster.to_dict(), compiled_speedup=plain.median / faster.median)
            rows.append(row)
    return rows


def format_speed_rows(task: Task, config: NetConfig, rows: list[dict]) -> list[str]:
    """A text table of :func:`speed_rows`."""
    compiled = any("compiled" in row for row in rows)
    lines = [f"seconds per fitting step, {task.describe()}, width {config.width} (median of 5 windows of 5 steps "
             f"after warm-up; min-max in brackets)",
             f"  {'arch':18} {'size':>5} {'plain fp32':>22} {'nasdip':>28} {'speed-up':>9} {'peak MiB':>9}"
             + (f" {'nasdip compiled':>28} {'speed-up':>9}" if compiled else "")]
    for row in rows:
        plain, fast = row["plain"], row["nasdip"]
        line = (f"  {row['arch']:18} {row['size']:>5} {_timing(plain)} {fast['precision']:>5} {_timing(fast)} "
                f"{row['speedup']:>8.2f}x {fast['peak_bytes'] / 2**20:>9.0f}")
        if "compiled" in row:
            line += f" {row['compiled']['precision']:>5} {_timing(row['compiled'])} {row['compiled_speedup']:>8.2f}x"
        lines.append(line)
    return lines


def _timing(timing: dict) -> str:
    return f"{timing['median_s']:>8.3f} [{timing['min_s']:.3f}-{timing['max_s']:.3f}]"


def machine_description(device: torch.device) -> str:
    """The processor (or GPU), whether it computes bf16 natively, torch's version and threads: the context every
    timing needs."""
    from nasdip.device import bf16_supported

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
    """Per-step seconds of ``stepper`` (a :class:`nasdip.fit.Fitter` or :class:`nasdip.packed_fit.PackedFitter`:
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


def time_members(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings, members: int,
                 warmup: int = 3, windows: int = 5, window: int = 5) -> StepTiming:
    """Per-step seconds of ``members`` fits of ``problem`` (seeds ``seed`` onwards) packed in one network; one
    member is the plain engine (:class:`nasdip.fit.Fitter`)."""
    from nasdip.fit import Fitter
    from nasdip.packed_fit import PackedFitter

    device = resolve_device(settings.device)
    settings = settings.replace(iters=warmup + windows * window + 1, stop="iters")
    reset_peak_memory(device)
    if members == 1:
        stepper = Fitter(task, problem, arch, config, settings)
    else:
        stepper = PackedFitter(task, [problem] * members, arch, config,
                               [settings.replace(seed=settings.seed + k) for k in range(members)])
    samples = time_stepper(stepper, device, warmup, windows, window)
    return StepTiming(f"{members} packed", stepper.precision, samples, peak_memory(device))


def packed_rows(task: Task, archs: list[Arch], cases: list[tuple[int, int]], members: list[int],
                settings: FitSettings, iters: int, **timing) -> list[dict]:
    """For every arch and ``(size, width)`` case: one fit's step time (fits one after another) and the step time of
    ``K`` packed fits for each ``K`` in ``members``, as fits of ``iters`` steps per minute."""
    from nasdip.problems import builtin_problem

    rows = []
    for size, width in cases:
        problem = builtin_problem(task, settings.seed, size)
        config = NetConfig(width=width)
        for arch in archs:
            alone = time_members(task, problem, arch, config, settings, 1, **timing)
            for count in members:
                packed = alone if count == 1 else time_members(task, problem, arch, config, settings, count, **timing)
                sequential_per_minute = 60.0 / (alone.median * iters)
                packed_per_minute = 60.0 * count / (packed.median * iters)
                rows.append({"arch": arch.label, "size": size, "width": width, "members": count,
                             "precision": packed.precision, "alone": alone.to_dict(), "packed": packed.to_dict(),
                             "sequential_fits_per_minute": sequential_per_minute,
                             "packed_fits_per_minute": packed_per_minute,
                             "speedup": packed_per_minute / sequential_per_minute})
    return rows


def format_packed_rows(rows: list[dict], iters: int) -> list[str]:
    """A text table of :func:`packed_rows`."""
    lines = [f"fits of {iters} steps per minute, one after another vs packed (median of the timing windows; "
             f"seconds per step of one fit and of the pack)",
             f"  {'arch':16} {'size':>5} {'width':>5} {'K':>3} {'prec':>5} {'1 fit s/step':>13} "
             f"{'pack s/step':>12} {'seq fits/min':>13} {'packed fits/min':>16} {'speed-up':>9}"]
    for row in rows:
        lines.append(f"  {row['arch']:16} {row['size']:>5} {row['width']:>5} {row['members']:>3} "
                     f"{row['precision']:>5} {row['alone']['median_s']:>13.4f} {row['packed']['median_s']:>12.4f} "
                     f"{row['sequential_fits_per_minute']:>13.1f} {row['packed_fits_per_minute']:>16.1f} "
                     f"{row['speedup']:>8.2f}x")
    return lines
