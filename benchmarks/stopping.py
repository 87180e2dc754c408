"""Automatic stopping against fixed step counts and the oracle, per task and architecture.

    python benchmarks/stopping.py [--task denoise --task sr --task inpaint] [--arch dip-skip ...]
                                  [--crop 128] [--width 32] [--cap 3000] [--holdout 0.1]
                                  [--curves curves.json] [--images search]
    python benchmarks/stopping.py --analyze curves.json [--rule holdout|wmv] [--window 50] [--patience 300]

Each (task, image, architecture) is fitted once to the cap with held-out pixels, recording per step the PSNR
of the reported output against the clean image, the held-out error and the windowed moving variance of the
output (for several windows). From one trajectory the table gives: the PSNR at the step the detector stops
(what ``--stop auto`` returns: the same trajectory up to that step), at the stopping results' fixed counts (the jittered
output at that step), at the cap, and the oracle maximum. ``--analyze`` replays saved curves under other
detector settings without fitting again. ``--images search`` fits the search images instead of the
evaluation sets (calibrate the detector there, never on the evaluation images). Curves already saved in
``--curves`` are kept and not fitted again, so a run resumes and runs with other ``--arch`` add to the file.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from nasdip import registry
from nasdip.arch.catalog import resolve_arch
from nasdip.fit.engine import Fitter
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.fit.stopping import MovingVarianceStop, StopConfig
from nasdip.io.crops import crop_square
from nasdip.io.images import list_images, load_image
from nasdip.nn.config import NetConfig

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EVALUATION = {"denoise": DATA / "denoise", "sr": DATA / "sr" / "set5", "inpaint": DATA / "inpaint"}
TASK_OPTIONS = {"sr": {"scale": 4}, "denoise": {"sigma": 25.0}, "inpaint": {"drop": 0.5}}
#: The fixed step counts of the benchmark table in the docs (results, benchmarks) (inpainting there ran at lr 0.01).
FIXED = {"denoise": 1000, "sr": 1000, "inpaint": 1500}
LR = {"inpaint": 0.01}
PRESETS = {"denoise": "nasdip-denoise", "sr": "nasdip-sr", "inpaint": "nasdip-inpaint"}
WMV_WINDOWS = (25, 50, 100)
SYNC = 25


def record(task, problem, arch, args) -> dict:
    """One fit to the cap; per-step PSNR, held-out MSE and moving variances."""
    settings = task.settings().replace(iters=args.cap, holdout=args.holdout, seed=args.seed, device=args.device,
                                       lr=LR.get(task.name), precision=args.precision)
    fitter = Fitter(FitRequest(task, problem, arch, NetConfig(width=args.width), settings))
    numel = problem.channels * problem.output_size[0] * problem.output_size[1]
    variances = {w: MovingVarianceStop(StopConfig("wmv", w, 1, w), numel, torch.Generator().manual_seed(0),
                                       fitter.device) for w in WMV_WINDOWS}
    wmv = {w: torch.full((args.cap,), math.nan, device=fitter.device) for w in WMV_WINDOWS}
    start = time.perf_counter()
    while fitter.steps < args.cap:
        current = fitter.step()
        with torch.no_grad():
            for window, detector in variances.items():
                value = detector.criterion(fitter.steps, current, None)
                if value is not None:
                    wmv[window][fitter.steps - 1] = value
        if fitter.due():
            fitter.synchronise()
    return {"psnr": fitter.scores.tolist(), "heldout": fitter.heldout.tolist(),
            "wmv": {str(w): values.tolist() for w, values in wmv.items()}, "rollbacks": fitter.guard.rollbacks,
            "seconds": time.perf_counter() - start}


def detect(criterion: list[float], window: int, patience: int, smooth: bool) -> int:
    """The step the engine's detector returns: the minimum of the (window-averaged) criterion, stopping when
    ``patience`` steps pass without a new minimum (checked every ``SYNC`` steps); the cap when it never fires."""
    best_value, best_step = math.inf, None
    for step in range(window, len(criterion) + 1):
        if smooth:
            values = criterion[step - window : step]
            value = sum(values) / window if all(map(math.isfinite, values)) else math.nan
        else:
            value = criterion[step - 1]
        if math.isfinite(value) and value < best_value:
            best_value, best_step = value, step
        if step % SYNC == 0 and best_step is not None and step - best_step >= patience:
            return best_step
    return len(criterion)


def summarise(curve: dict, task: str, rule: str, window: int, patience: int) -> dict:
    psnr = curve["psnr"]
    if rule == "holdout":
        stop = detect(curve["heldout"], window, patience, smooth=True)
    else:
        stop = detect(curve["wmv"][str(window)], window, patience, smooth=False)
    fixed = FIXED[task]
    return {"auto": psnr[stop - 1], "stop": stop, "fixed": psnr[min(fixed, len(psnr)) - 1], "cap": psnr[-1],
            "oracle": max(v for v in psnr if math.isfinite(v))}


def table(curves: list[dict], rule: str, window: int, patience: int) -> None:
    print(f"detector {rule}, window {window}, patience {patience} (PSNR dB; means over images)")
    print(f"{'task':8} {'arch':16} {'n':>2} {'auto':>7} {'stop':>6} {'fixed':>7} {'@':>5} {'cap':>7} {'oracle':>7} "
          f"{'auto-oracle':>11} {'auto-fixed':>10}")
    keys = dict.fromkeys((c["task"], c["arch"]) for c in curves)
    gaps = []
    for task, arch in keys:
        rows = [summarise(c, task, rule, window, patience) for c in curves if (c["task"], c["arch"]) == (task, arch)]

        def mean(key, rows=rows):
            return statistics.fmean(row[key] for row in rows)

        gap = mean("auto") - mean("oracle")
        gaps.append(gap)
        print(f"{task:8} {arch:16} {len(rows):>2} {mean('auto'):7.2f} {mean('stop'):6.0f} {mean('fixed'):7.2f} "
              f"{FIXED[task]:>5} {mean('cap'):7.2f} {mean('oracle'):7.2f} {gap:11.2f} "
              f"{mean('auto') - mean('fixed'):10.2f}")
    print(f"mean auto - oracle over task/arch pairs: {statistics.fmean(gaps):.2f} dB; worst {min(gaps):.2f} dB")


def images_for(task: str, which: str) -> list[Path]:
    folder = DATA / "search" if which == "search" else EVALUATION[task]
    return list_images(folder)


def run(args) -> list[dict]:
    """Record every (task, arch, image) curve not yet in ``--curves`` (which keeps the curves of earlier runs)."""
    saved = Path(args.curves) if args.curves else None
    curves = json.loads(saved.read_text())["curves"] if saved is not None and saved.exists() else []
    done = {(c["task"], c["arch"], c["image"]) for c in curves}
    for task_name in args.task:
        task = registry.get("tasks", task_name)(**TASK_OPTIONS[task_name])
        paths = images_for(task_name, args.images)[: args.max_images]
        cleans = [(path.stem, crop_square(load_image(path)[0], args.crop)) for path in paths]
        if task_name == "inpaint":  # the paper's inpainting set is grey
            cleans = [(name, image.mean(dim=1, keepdim=True)) for name, image in cleans]
        problems = degrade_set(task, cleans, args.seed)
        for arch_name in args.arch or ("dip-skip", PRESETS[task_name]):
            arch = resolve_arch(arch_name)
            for problem in problems:
                if (task_name, arch_name, problem.name) in done:
                    continue
                curve = record(task, problem, arch, args)
                curves.append({"task": task_name, "arch": arch_name, "image": problem.name, **curve})
                best = max(v for v in curve["psnr"] if math.isfinite(v))
                print(f"  {task_name} {arch_name} {problem.name}: {curve['seconds']:.0f} s, oracle {best:.2f} dB",
                      file=sys.stderr, flush=True)
                if saved is not None:
                    partial = saved.with_suffix(".partial")
                    partial.write_text(json.dumps({"args": vars(args), "curves": curves}))
                    partial.replace(saved)  # never a half-written file
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", choices=sorted(FIXED))
    parser.add_argument("--arch", action="append")
    parser.add_argument("--images", choices=("evaluation", "search"), default="evaluation")
    parser.add_argument("--max-images", type=int, default=None)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--cap", type=int, default=3000)
    parser.add_argument("--holdout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--curves", help="save the recorded curves here (JSON)")
    parser.add_argument("--analyze", help="replay curves saved with --curves instead of fitting")
    parser.add_argument("--rule", choices=("holdout", "wmv"), default="holdout")
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--patience", type=int, default=300)
    args = parser.parse_args()
    if args.analyze:
        curves = json.loads(Path(args.analyze).read_text())["curves"]
    else:
        args.task = args.task or ["denoise", "sr", "inpaint"]
        curves = run(args)
    table(curves, args.rule, args.window, args.patience)


if __name__ == "__main__":
    main()
