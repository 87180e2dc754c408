"""Wall-clock of N candidate evaluations with 1 and 2 local worker processes (one torch thread each).

    python benchmarks/parallel.py [--trials 8] [--iters 100] [--crop 64] [--width 16] [--space upsample-cell]

Runs the same random search (same seed, same candidates) with: the serial executor (all cores to torch), the
process executor with 1 worker x 1 thread, and 2 workers x 1 thread; prints seconds and trials per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from nasdip.search.driver import start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.settings import SearchSettings


def timed(settings: SearchSettings) -> tuple[float, list]:
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        start_search(settings, Path(directory) / "run", None).run()
        seconds = time.perf_counter() - start
        trials = [json.loads(line) for line in (Path(directory) / "run" / "trials.jsonl").read_text().splitlines()]
    return seconds, sorted((t["index"], t["digest"]) for t in trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--space", default="upsample-cell")
    args = parser.parse_args()
    base = dict(searcher="random", task="denoise", space=args.space, budget=args.trials, batch=args.trials,
                fidelity=Fidelity(args.iters, args.crop, args.width), device="cpu", seed=0)
    runs = {
        f"serial ({torch.get_num_threads()} threads)": SearchSettings(**base),
        "process, 1 worker x 1 thread": SearchSettings(**base, executor="process", workers=1,
                                                        executor_options={"process_threads": 1}),
        "process, 2 workers x 1 thread": SearchSettings(**base, executor="process", workers=2,
                                                         executor_options={"process_threads": 1}),
    }
    print(f"{args.trials} trials of {args.space}, {args.iters} steps on 2 crops of {args.crop}x{args.crop}, "
          f"width {args.width}; {os.cpu_count()} CPU cores")
    results = {}
    for label, settings in runs.items():
        seconds, trials = timed(settings)
        results[label] = (seconds, trials)
        print(f"  {label:32} {seconds:7.1f} s  {60 * args.trials / seconds:6.2f} trials/min")
    one = results["process, 1 worker x 1 thread"][0]
    two = results["process, 2 workers x 1 thread"][0]
    same = len({tuple(map(tuple, trials)) for _, trials in results.values()}) == 1
    print(f"  speed-up of 2 workers over 1: {one / two:.2f}x; same candidates in every run: {same}")


if __name__ == "__main__":
    main()
