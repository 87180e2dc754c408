"""Time to a restored image: DIP's reference protocol against ``nasdip restore``, seconds and PSNR.

    python benchmarks/time_to_result.py [--task denoise --task sr --task inpaint] [--images 3] [--crop 128]
                                        [--width 128] [--window 50] [--full] [--precision auto|fp32|bf16]
                                        [--device auto] [--iters N] [--quick]

For each task (denoising sigma 25, x4 super-resolution, inpainting 50 %) and each validation image
(``../shared/data``: denoise, sr/set5, inpaint; centre crops; the built-in photo when the folder is absent), one
fit at a time in this process:

* **DIP reference**: a plain PyTorch loop written here the way DIP's notebooks run it: DIP's skip network
  (``dip-skip``, PyTorch's own interpolation), Adam, the task's fixed count, learning rate and jitter (3000
  steps for denoising, 2000 for x4 SR, the task's default for inpainting), fp32, the output copied to the host
  for a PSNR every step, and for denoising the exponential output average of DIP's notebook; nothing else.
  It is timed over ``--window`` steps (after two warm-up steps) and extrapolated to the protocol's count;
  ``--full`` runs it to the end (the PSNR at the protocol's end, and a check of the extrapolation).
* **nasdip default**: what ``nasdip restore --task T`` does (the task's preset, its default stopping rule,
  precision auto, ``--compile`` auto).
* **nasdip fast**: the fastest settings a user would reasonably choose: ``--stop auto`` (precision and compile
  auto). Where they equal the defaults the default's fit is reused.

Seconds are wall time to the returned restoration (network built, fitted, compiled where it is); PSNR is that of
the returned restoration (no oracle). ``--quick`` is a harness check at toy sizes (used by the tests).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasdip import registry
from nasdip.arch.build import build_network
from nasdip.arch.catalog import resolve_arch
from nasdip.cli.options import settings_from
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import crop_square
from nasdip.io.images import list_images, load_image
from nasdip.nn.cell import use_native_interpolation
from nasdip.nn.config import NetConfig
from nasdip.report.timing import machine_description

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = {"denoise": DATA / "denoise", "sr": DATA / "sr" / "set5", "inpaint": DATA / "inpaint"}
TASK_OPTIONS = {"denoise": {"sigma": 25.0}, "sr": {"scale": 4}, "inpaint": {"drop": 0.5}}
REFERENCE_ARCH = "dip-skip"
WARMUP = 2
#: --quick: toy sizes that check the harness, not the protocol.
QUICK = {"crop": 32, "width": 8, "iters": 60, "window": 5, "images": 1}


@dataclass
class Run:
    """One timed restoration: its seconds (``extrapolated`` from a window), steps, PSNR (``nan`` when the
    reference was not run to its end) and how it ran."""

    image: str
    seconds: float
    steps: int
    psnr: float
    how: str
    extrapolated: bool = False
    measured: float | None = None  # --full: the reference's measured seconds beside the extrapolation


def problems_for(task, name: str, args, folder: Path | None = None) -> list:
    """The task's validation images (or ``folder``'s; the built-in photo when absent), centre-cropped and
    degraded."""
    folder = IMAGES[name] if folder is None else folder
    paths = list_images(folder)[: args.images] if folder.is_dir() else []
    cleans = ([(path.stem, crop_square(load_image(path)[0], args.crop)) for path in paths]
              or [("grace_hopper", crop_square(builtin_photo()[0], args.crop))])
    if name == "inpaint":  # the paper's inpainting set is grey
        cleans = [(label, image.mean(dim=1, keepdim=True)) for label, image in cleans]
    return degrade_set(task, cleans, args.seed)


def chosen_problems(task, name: str, args) -> list:
    """:func:`problems_for` from ``args.images_dir`` when given (another folder than the validation images), only
    those named by ``args.image`` when given (degraded as in a run over all of them); an unknown name exits."""
    folder = IMAGES[name] if args.images_dir is None else Path(args.images_dir)
    problems = problems_for(task, name, args, folder)
    unknown = sorted(set(args.image or ()) - {problem.name for problem in problems})
    if unknown:
        raise SystemExit(f"--image {unknown[0]}: no such image in {folder} (there are: "
                         f"{', '.join(problem.name for problem in problems)})")
    return [problem for problem in problems if not args.image or problem.name in args.image]


class Reference:
    """DIP's notebook loop: its network, the fixed noise input plus fresh jitter, Adam, the task's loss, a host
    PSNR every step, the exponential output average where the task has one."""

    def __init__(self, task, problem, width: int, seed: int, device: torch.device, iters: int | None) -> None:
        settings = task.settings()
        self.task, self.settings, self.count = task, settings, iters or settings.iters
        self.problem = problem.to(device)
        torch.manual_seed(seed)
        config = NetConfig(width=width, out_channels=problem.channels)
        self.net = use_native_interpolation(build_network(resolve_arch(REFERENCE_ARCH), config)).to(device)
        self.z = torch.rand(1, config.input_depth, *problem.output_size, device=device) * settings.input_scale
        self.noise = self.z.clone()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=settings.lr)
        self.average: torch.Tensor | None = None
        self.clean = problem.clean.detach().cpu().numpy()[0]

    def step(self) -> None:
        self.optimizer.zero_grad()
        out = self.net(self.z + self.noise.normal_() * self.settings.reg_noise)
        loss = self.task.loss(out, self.problem)
        loss.backward()
        if self.settings.ema is not None:
            detached = out.detach()
            self.average = detached if self.average is None else self.average * self.settings.ema + detached * (
                1 - self.settings.ema)
        shown = (out if self.average is None else self.average).detach().cpu().numpy()[0]
        10 * np.log10(1.0 / max(float(np.mean((shown - self.clean) ** 2)), 1e-12))  # DIP's PSNR every step
        self.optimizer.step()

    @torch.no_grad()
    def psnr(self) -> float:
        """The task's PSNR of the protocol's result: the average, else the network on the noise input."""
        output = self.average if self.average is not None else self.net(self.z)
        return self.task.metrics(output.clamp(0, 1).cpu(), self.problem.clean.cpu())["psnr"]


def run_reference(task, problem, args, device: torch.device) -> Run:
    """The reference timed over ``args.window`` steps and extrapolated to its count; with ``args.full`` run to
    the end (its PSNR, and its measured seconds beside the extrapolation)."""
    start = time.perf_counter()
    reference = Reference(task, problem, args.width, args.seed, device, args.iters)
    for _ in range(WARMUP):
        reference.step()
    synchronize(device)
    window_start = time.perf_counter()
    window = min(args.window, reference.count - WARMUP)
    for _ in range(window):
        reference.step()
    synchronize(device)
    per_step = (time.perf_counter() - window_start) / window
    extrapolated = (window_start - start) + per_step * (reference.count - WARMUP)
    if not args.full:
        return Run(problem.name, extrapolated, reference.count, math.nan, "fp32", extrapolated=True)
    for _ in range(reference.count - WARMUP - window):
        reference.step()
    synchronize(device)
    measured = time.perf_counter() - start
    return Run(problem.name, measured, reference.count, reference.psnr(), "fp32", measured=extrapolated)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def nasdip_settings(task, args, fast: bool):
    """What ``nasdip restore`` fits with: its defaults, or with ``--stop auto`` (``fast``)."""
    stopping = {"stop": "auto"} if fast else {}
    settings = settings_from(task.settings(), args.iters, None, args.seed, args.device, args.precision, None,
                             **stopping)
    return settings if fast else task.restore_settings(settings)


def run_nasdip(task, problem, args, settings) -> Run:
    """One restoration through the Python API, timed from the call to the returned restoration."""
    request = FitRequest(task, problem, resolve_arch(task.arch_spec(None)), NetConfig(width=args.width), settings)
    start = time.perf_counter()
    result = task.fit(request)
    seconds = time.perf_counter() - start
    stop = (f"stop {settings.stop}: step {int(result.metrics['stop_step'])} ({result.stop_reason})"
            if settings.stop != "iters" else "fixed count")
    how = f"{stop}, {result.precision}{', compiled' if result.compiled else ''}" \
          f"{', CUDA graphs' if result.cuda_graphs else ''}"
    return Run(problem.name, seconds, result.iters, result.metrics["psnr"], how)


def measure_task(name: str, args, device: torch.device) -> dict[str, list[Run]]:
    """Every run of one task on every image, one at a time."""
    task = registry.get("tasks", name)(**TASK_OPTIONS[name])
    default, fast = nasdip_settings(task, args, False), nasdip_settings(task, args, True)
    runs: dict[str, list[Run]] = {"DIP reference": [], "nasdip default": [], "nasdip fast": []}
    for problem in problems_for(task, name, args):
        runs["DIP reference"].append(run_reference(task, problem, args, device))
        runs["nasdip default"].append(run_nasdip(task, problem, args, default))
        runs["nasdip fast"].append(runs["nasdip default"][-1] if fast == default else
                                   run_nasdip(task, problem, args, fast))
    return runs


def table(name: str, runs: dict[str, list[Run]], args) -> list[str]:
    """The task's table: per image and mean, seconds, steps, PSNR and the speed-up against the reference."""
    task = registry.get("tasks", name)(**TASK_OPTIONS[name])
    lines = [f"{task.describe()}: {args.crop}x{args.crop} crops, width {args.width}; seconds to the returned "
             f"restoration, its PSNR (no oracle); * extrapolated from {args.window} timed steps",
             f"  {'run':16} {'image':14} {'steps':>6} {'seconds':>9} {'PSNR':>6} {'speed-up':>9}  how"]
    reference = {run.image: run for run in runs["DIP reference"]}
    for label, rows in runs.items():
        for run in rows:
            seconds = f"{run.seconds:.1f}{'*' if run.extrapolated else ''}"
            check = "" if run.measured is None else f" (extrapolated {run.measured:.1f} s)"
            lines.append(f"  {label:16} {run.image:14} {run.steps:>6} {seconds:>9} {_psnr(run.psnr):>6} "
                         f"{reference[run.image].seconds / run.seconds:>8.2f}x  {run.how}{check}")
        mean = statistics.fmean(run.seconds for run in rows)
        ref_mean = statistics.fmean(run.seconds for run in runs["DIP reference"])
        lines.append(f"  {label:16} {'mean':14} {statistics.fmean(run.steps for run in rows):>6.0f} "
                     f"{mean:>9.1f} {_psnr(statistics.fmean(run.psnr for run in rows)):>6} {ref_mean / mean:>8.2f}x")
    return lines


def _psnr(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", choices=sorted(TASK_OPTIONS))
    parser.add_argument("--images", type=int, default=3, help="images per task (the first of each set)")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--window", type=int, default=50, help="timed steps of the reference")
    parser.add_argument("--full", action="store_true", help="run the reference to the end of its protocol")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="nasdip's precision")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iters", type=int, default=None, help="replace every step count (harness checks only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the harness, measures nothing")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value if getattr(args, key) == parser.get_default(key) else getattr(args, key))
    args.task = args.task or ["denoise", "sr", "inpaint"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    print(f"machine: {machine_description(device)}; device {device}, nasdip precision {args.precision}")
    for name in args.task:
        print("\n".join(table(name, measure_task(name, args, device), args)), flush=True)


if __name__ == "__main__":
    main()
