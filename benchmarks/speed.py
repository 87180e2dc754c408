"""Seconds per fitting step, nasdip's engine against the straightforward float32 loop, and bf16 quality.

    python benchmarks/speed.py [--arch dip-skip --arch nasdip-sr ...] [--size 128 --size 256] [--width 128]
                               [--device auto] [--precision fp32] [--compile] [--quality] [--quality-iters 1000]
                               [--task denoise|sr|inpaint] [--quality-seeds 2]

Speed: for each architecture and size, the plain loop (float32, eager, contiguous, F.interpolate, a host PSNR
every step, as DIP's code runs) and nasdip's engine (precision auto), in this process, on crops of the built-in
photo; --compile adds the engine under torch.compile (compilation is part of the warm-up). Quality (--quality): final PSNR on centre crops of the task's real images in ../shared/data (or the
built-in photo when absent), fp32 and bf16 fits paired by seed, the mean difference with its standard error,
and the seed-to-seed spread of fp32 for scale.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from nasdip import registry
from nasdip.arch.catalog import resolve_arch
from nasdip.fit.inputs import degradation_generator
from nasdip.fit.request import FitRequest
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import crop_square
from nasdip.io.images import list_images, load_image
from nasdip.nn.config import NetConfig
from nasdip.report.speed import format_speed_rows, speed_rows

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
QUALITY_IMAGES = {"denoise": DATA / "denoise", "sr": DATA / "sr" / "set5", "inpaint": DATA / "inpaint"}


def quality(args) -> None:
    """Final PSNR of fp32 and bf16 fits paired by seed; the fp32 seed-to-seed spread as the noise floor."""

    task = registry.get("tasks", args.task)()
    folder = QUALITY_IMAGES.get(args.task)
    cleans = ([(p.stem, load_image(p)[0]) for p in list_images(folder)] if folder and folder.is_dir()
              else [("grace_hopper", builtin_photo()[0])])
    print(f"bf16 quality: {task.describe()}, {args.quality_iters} steps, crop {args.quality_crop}, "
          f"width {args.quality_width}, seeds 0-{args.quality_seeds - 1}")
    differences, spreads = [], []
    for arch_name in args.arch:
        arch = resolve_arch(arch_name)
        arch_differences = []
        for index, (name, clean) in enumerate(cleans):
            problem = task.degrade(crop_square(clean, args.quality_crop), degradation_generator(index), name=name)
            psnr: dict[str, list[float]] = {"fp32": [], "bf16": []}
            for seed in range(args.quality_seeds):
                for precision in psnr:
                    settings = task.settings().replace(iters=args.quality_iters, device=args.device,
                                                       precision=precision, seed=seed)
                    fit = task.fit(FitRequest(task, problem, arch, NetConfig(width=args.quality_width), settings))
                    psnr[precision].append(fit.metrics["psnr"])
            pairs = [b - f for f, b in zip(psnr["fp32"], psnr["bf16"], strict=True)]
            arch_differences += pairs
            if len(psnr["fp32"]) > 1:
                spreads.append(statistics.stdev(psnr["fp32"]))
            print(f"  {arch.label:16} {name:10} fp32 {statistics.mean(psnr['fp32']):.2f} dB  "
                  f"bf16 {statistics.mean(psnr['bf16']):.2f} dB  bf16 - fp32 per seed "
                  + " ".join(f"{d:+.2f}" for d in pairs))
        print(f"  {arch.label:16} mean bf16 - fp32 {_mean_and_error(arch_differences)}")
        differences += arch_differences
    line = f"  all: mean bf16 - fp32 {_mean_and_error(differences)}"
    if spreads:
        line += f"; fp32 seed-to-seed standard deviation {statistics.mean(spreads):.2f} dB"
    print(line)


def _mean_and_error(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:+.3f} dB"
    return f"{statistics.mean(values):+.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f} dB (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", default=None)
    parser.add_argument("--size", action="append", type=int, default=None)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="Precision of nasdip's engine (auto, fp32, bf16).")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--compile", action="store_true", help="Also time nasdip's engine under torch.compile.")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--quality-iters", type=int, default=1000)
    parser.add_argument("--quality-crop", type=int, default=96)
    parser.add_argument("--quality-width", type=int, default=32)
    parser.add_argument("--quality-seeds", type=int, default=2)
    args = parser.parse_args()
    args.arch = args.arch or ["dip-skip", "nasdip-sr", "nasdip-denoise"]
    task = registry.get("tasks", args.task)()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    if args.quality:
        quality(args)
        return
    config = NetConfig(width=args.width)
    settings = task.settings().replace(device=args.device, precision=args.precision)
    rows = speed_rows(task, [resolve_arch(a) for a in args.arch], config, settings, args.size or [128, 256],
                      compiled=args.compile)
    for line in format_speed_rows(task, config, rows):
        print(line)


if __name__ == "__main__":
    main()
