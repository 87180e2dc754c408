"""How many candidates per second a training-free score rates: forward passes of untrained networks only.

    OMP_NUM_THREADS=2 python benchmarks/score_speed.py [--task sr] [--crop 64] [--width 16] [--candidates 60]
        [--score psd --score psd-hist --score lowpass] [--threads 2]

Random architectures of the ``nasdip`` space are scored on the two search crops of the built-in photo (degraded by
the task, as ``nasdip search`` does) through the registered reward, exactly as a score rung evaluates them (one
model built and one batch of noise inputs per candidate; the two crops share both). Prints candidates per second
for each score and where a candidate's time goes (building the network, the forward pass, the spectra).
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from nasdip import registry
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.fit.tracker import build_seeded
from nasdip.fit.untrained import NOISE_INPUTS, noise_inputs
from nasdip.io.builtin import builtin_regions
from nasdip.nn.config import NetConfig
from nasdip.search.reward import RewardContext

TASK_OPTIONS = {"denoise": {"sigma": 25.0}, "sr": {"scale": 4}, "inpaint": {}}


def breakdown(task, problem, archs, config, settings) -> tuple[float, float]:
    """Mean seconds per candidate to build its seeded model and to run its forward pass."""
    build = forward = 0.0
    for arch in archs:
        request = FitRequest(task, problem, arch, config, settings)
        start = time.perf_counter()
        model = build_seeded(request)
        built = time.perf_counter()
        with torch.inference_mode():
            model(noise_inputs(request, config.input_depth, NOISE_INPUTS))
        build, forward = build + built - start, forward + time.perf_counter() - built
    return build / len(archs), forward / len(archs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASK_OPTIONS), default="denoise")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--score", action="append", help="score to time (repeatable; default: psd, psd-hist, lowpass)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = registry.get("tasks", args.task)(**TASK_OPTIONS[args.task])
    problems = degrade_set(task, builtin_regions(args.crop), args.seed)
    settings = task.settings().replace(iters=300, seed=args.seed, device="cpu")
    config = NetConfig(width=args.width)
    space = registry.get("spaces", "nasdip")
    rng = random.Random(args.seed)
    archs = [space.sample(rng) for _ in range(args.candidates)]
    print(f"{args.task}, {len(problems)} crops of {args.crop} px, width {args.width}, {NOISE_INPUTS} noise inputs, "
          f"{args.candidates} random nasdip architectures, {torch.get_num_threads()} torch threads")
    build, forward = breakdown(task, problems[0], archs[:5], config, settings)  # also warms oneDNN up
    build, forward = breakdown(task, problems[0], archs, config, settings)
    print(f"  per candidate: build {1000 * build:.1f} ms, forward {1000 * forward:.1f} ms")
    for name in args.score or ["psd", "psd-hist", "lowpass"]:
        reward = registry.get("rewards", name)
        start = time.perf_counter()
        for arch in archs:
            reward(RewardContext(arch, task, problems, config=config, settings=settings))
        seconds = time.perf_counter() - start
        print(f"  {name:9s} {args.candidates / seconds:6.1f} candidates/s ({1000 * seconds / args.candidates:.1f} ms "
              f"each)")


if __name__ == "__main__":
    main()
