"""Packed fits (:mod:`nasdip.fit.packed`) against the same fits one after another: seconds per step and fits per
minute."""

from __future__ import annotations

from nasdip.arch.document import Arch
from nasdip.fit.engine import Fitter
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.packed import PackedFitter
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.nn.config import NetConfig
from nasdip.report.timing import StepTiming, peak_memory, reset_peak_memory, time_stepper


def time_members(request: FitRequest, members: int, warmup: int = 3, windows: int = 5,
                 window: int = 5) -> StepTiming:
    """Per-step seconds of ``members`` fits of the request (seeds ``seed`` onwards) packed in one network; one
    member is the plain engine (:class:`nasdip.fit.engine.Fitter`)."""
    device = request.device
    request = request.with_settings(iters=warmup + windows * window + 1, stop="iters")
    reset_peak_memory(device)
    if members == 1:
        stepper = Fitter(request)
    else:
        stepper = PackedFitter([request.with_settings(seed=request.settings.seed + k) for k in range(members)])
    samples = time_stepper(stepper, device, warmup, windows, window)
    return StepTiming(f"{members} packed", stepper.precision, samples, peak_memory(device))


def packed_rows(task: Task, archs: list[Arch], cases: list[tuple[int, int]], members: list[int],
                settings: FitSettings, iters: int, **timing) -> list[dict]:
    """For every arch and ``(size, width)`` case: one fit's step time (fits one after another) and the step time of
    ``K`` packed fits for each ``K`` in ``members``, as fits of ``iters`` steps per minute."""
    rows = []
    for size, width in cases:
        problem = builtin_problem(task, settings.seed, size)
        config = NetConfig(width=width)
        for arch in archs:
            request = FitRequest(task, problem, arch, config, settings)
            alone = time_members(request, 1, **timing)
            for count in members:
                packed = alone if count == 1 else time_members(request, count, **timing)
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
