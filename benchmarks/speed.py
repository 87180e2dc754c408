"""Seconds per fitting step, nasdip's engine against the straightforward float32 loop, and bf16 quality.

    python benchmarks/speed.py [--arch dip-skip --arch nasdip-sr ...] [--size 128 --size 256] [--width 128]
                               [--device auto] [--quality] [--quality-iters 1000]

Speed: for each architecture and size, the plain loop (float32, eager, contiguous, F.interpolate, a host PSNR
every step, as DIP's code runs) and nasdip's engine (precision auto), in this process, on crops of the built-in
photo. Quality (--quality): final PSNR of denoising fits in fp32 and bf16 on crops of ../shared/data/denoise
(or the built-in photo when absent), their difference, and for scale the difference between two fp32 fits
with different seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from nasdip import registry
from nasdip.catalog import resolve_arch
from nasdip.nn.config import NetConfig
from nasdip.speed import format_speed_rows, speed_rows

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "denoise"


def quality(args) -> None:
    from nasdip.benchmark import list_images
    from nasdip.imageio import builtin_photo, load_image
    from nasdip.restoration import crop_square, generator

    task = registry.get("tasks", "denoise")()
    cleans = ([(p.stem, load_image(p)[0]) for p in list_images(DATA)] if DATA.is_dir()
              else [("grace_hopper", builtin_photo()[0])])
    print(f"bf16 quality: denoising, {args.quality_iters} steps, crop {args.quality_crop}, width {args.quality_width}")
    differences, floors = [], []
    for arch_name in args.arch:
        arch = resolve_arch(arch_name)
        for index, (name, clean) in enumerate(cleans):
            problem = task.degrade(crop_square(clean, args.quality_crop), generator(index), name=name)
            psnr = {}
            for label, precision, seed in (("fp32", "fp32", 0), ("bf16", "bf16", 0), ("fp32 seed 1", "fp32", 1)):
                settings = task.settings().replace(iters=args.quality_iters, device=args.device, precision=precision,
                                                   seed=seed)
                psnr[label] = task.fit(problem, arch, NetConfig(width=args.quality_width), settings).metrics["psnr"]
            differences.append(psnr["bf16"] - psnr["fp32"])
            floors.append(psnr["fp32 seed 1"] - psnr["fp32"])
            print(f"  {arch.label:16} {name:10} fp32 {psnr['fp32']:.2f} dB  bf16 {psnr['bf16']:.2f} dB "
                  f"({differences[-1]:+.2f})  fp32 with another seed {psnr['fp32 seed 1']:.2f} dB ({floors[-1]:+.2f})")
    mean = sum(differences) / len(differences)
    print(f"  bf16 - fp32: mean {mean:+.3f} dB, mean |.| {sum(map(abs, differences)) / len(differences):.3f} dB; "
          f"seed-to-seed noise of fp32: mean |.| {sum(map(abs, floors)) / len(floors):.3f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", default=None)
    parser.add_argument("--size", action="append", type=int, default=None)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="Precision of nasdip's engine (auto, fp32, bf16).")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--quality-iters", type=int, default=1000)
    parser.add_argument("--quality-crop", type=int, default=96)
    parser.add_argument("--quality-width", type=int, default=32)
    args = parser.parse_args()
    args.arch = args.arch or ["dip-skip", "nasdip-sr", "nasdip-denoise"]
    task = registry.get("tasks", args.task)()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    if args.quality:
        quality(args)
        return
    config = NetConfig(width=args.width)
    settings = task.settings().replace(device=args.device, precision=args.precision)
    rows = speed_rows(task, [resolve_arch(a) for a in args.arch], config, settings, args.size or [128, 256])
    for line in format_speed_rows(task, config, rows):
        print(line)


if __name__ == "__main__":
    main()
