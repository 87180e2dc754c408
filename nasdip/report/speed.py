"""Seconds per fitting step: nasdip's engine against the straightforward loop of the same network
(:mod:`nasdip.report.packed_speed` times packed fits).

The straightforward loop is how the original DIP code runs: float32, eager, contiguous memory, PyTorch's
``interpolate`` for every upsampling, and after every step the output copied to the host to compute a PSNR
with NumPy. nasdip's path is :func:`nasdip.fit.engine.fit` itself (precision ``auto``: bf16 autocast with
channels-last where the device supports it, grouped convolutions in fp32 on CPUs, bicubic upsampling as a convolution, host
synchronisation only every few steps). Both run in the same process on the same problem; each is warmed up and
timed over several windows, reported as median and spread.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from nasdip.arch.build import build_network
from nasdip.arch.document import Arch
from nasdip.fit.engine import fit
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.nn.cell import use_native_interpolation
from nasdip.nn.config import NetConfig
from nasdip.report.timing import StepTiming, peak_memory, reset_peak_memory, time_windows


def time_engine(request: FitRequest, warmup: int = 3, windows: int = 5, window: int = 5) -> StepTiming:
    """Per-step seconds of :func:`nasdip.fit.engine.fit`, timed between its synchronisation points."""
    device, settings = request.device, request.settings
    stamps: list[float] = []

    def stamp(step, metrics) -> None:
        stamps.append(time.perf_counter())

    reset_peak_memory(device)
    iters = window * (windows + max(1, -(-warmup // window)))
    result = fit(request.replace(settings=settings.replace(iters=iters, sync_every=window), callbacks=(stamp,)))
    samples = [(b - a) / window for a, b in itertools.pairwise(stamps)][-windows:]
    return StepTiming("nasdip", result.precision, samples, peak_memory(device))


def time_plain(request: FitRequest, warmup: int = 3, windows: int = 5, window: int = 5) -> StepTiming:
    """Per-step seconds of the straightforward DIP loop of the request's network."""
    task, problem, arch, config, settings = (request.task, request.problem, request.arch, request.config,
                                             request.settings)
    device = request.device
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

    rows = []
    for size in sizes:
        problem = builtin_problem(task, settings.seed, size)
        for arch in archs:
            request = FitRequest(task, problem, arch, config, settings)
            plain = time_plain(request)
            fast = time_engine(request.with_settings(compile=False))
            row = {"arch": arch.label, "size": size, "width": config.width, "plain": plain.to_dict(),
                   "nasdip": fast.to_dict(), "speedup": plain.median / fast.median}
            if compiled:
                faster = time_engine(request.with_settings(compile=True))
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
