"""How many candidates per second a training-free score rates: forward passes of untrained networks only.

    OMP_NUM_THREADS=2 python benchmarks/score_speed.py [--task sr] [--crop 64] [--width 16] [--candidates 60]
        [--score psd --score psd-hist --score lowpass] [--threads 2] [--workers 2] [--proposal-order]

Random architectures of the ``nasdip`` space are scored on the two search crops of the built-in photo (degraded by
the task, as ``nasdip search`` does) through the registered reward, exactly as a score rung evaluates them (in a
score round's order, by their choices, so that candidates of one cell follow each other; one model and one batch
of noise inputs per candidate; the two crops share both; one network per thread is rebuilt and re-initialised for
each candidate, skipping the weights it would draw again; the encoder's part of the forward pass, the same for
every candidate of one seed, computed once, and a cell's cross-scale upsamplings once for its candidates). The
more candidates, the more share a cell (282 cells): ``--candidates 1000`` is a prescreen's size,
``--proposal-order`` scores them in the order they were drawn. Prints candidates per second for each score (with
``--workers N`` also of ``N`` single-threaded processes scoring at once, in contiguous blocks, as the process executor
runs a score round) and where a candidate's time goes (building a network afresh against rebuilding the thread's, the
whole forward pass against the scores' rebuild and forward; the rest is the spectra).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time

import torch

from nasdip import registry
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.fit.tracker import build_seeded
from nasdip.fit.untrained import NOISE_INPUTS, noise_inputs, seeded_model, untrained_output
from nasdip.io.builtin import builtin_regions
from nasdip.nn.cell import Cell
from nasdip.nn.config import NetConfig
from nasdip.search.driver import choice_order
from nasdip.search.reward import RewardContext

TASK_OPTIONS = {"denoise": {"sigma": 25.0}, "sr": {"scale": 4}, "inpaint": {}}


def breakdown(task, problem, archs, config, settings) -> tuple[float, float, float, float]:
    """Mean seconds per candidate to build its seeded model afresh, to rebuild the thread's model into it from the
    previous candidate's and re-initialise it (:func:`nasdip.fit.untrained.seeded_model`), to run its forward pass
    as the scores do (:func:`nasdip.fit.untrained.untrained_output`: the encoder's part computed once for all the
    candidates, a cell's cross-scale upsamplings once for its candidates) and to run its whole forward pass."""
    build = rebuild = scored = forward = 0.0
    for arch in archs:
        request = FitRequest(task, problem, arch, config, settings)
        start = time.perf_counter()
        build_seeded(request)
        built = time.perf_counter()
        model = seeded_model(request)
        rebuilt = time.perf_counter()
        untrained_output(request)  # the same model: nothing left to rebuild or draw
        passed = time.perf_counter()
        with torch.inference_mode():
            model(noise_inputs(request, config.input_depth, NOISE_INPUTS))
        build, rebuild, scored = build + built - start, rebuild + rebuilt - built, scored + passed - rebuilt
        forward += time.perf_counter() - passed
    return tuple(seconds / len(archs) for seconds in (build, rebuild, scored, forward))


def score_all(name: str, task, problems, archs, config, settings) -> float:
    """Seconds to score ``archs`` one after another with the reward ``name``."""
    reward = registry.get("rewards", name)
    start = time.perf_counter()
    for arch in archs:
        reward(RewardContext(arch, task, problems, config=config, settings=settings))
    return time.perf_counter() - start


def worker(job) -> None:
    """One process of ``--workers``: one torch thread, its share of the candidates (after a warm-up)."""
    name, task, problems, archs, config, settings, start = job
    torch.set_num_threads(1)
    score_all(name, task, problems, archs[:3], config, settings)
    start.wait()
    score_all(name, task, problems, archs, config, settings)


def parallel_rate(name: str, workers: int, task, problems, archs, config, settings) -> float:
    """Candidates per second of ``workers`` processes scoring their shares of ``archs`` at once."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(workers + 1)
        shares = [archs[k * len(archs) // workers:(k + 1) * len(archs) // workers] for k in range(workers)]
        with context.Pool(workers) as pool:
            done = pool.map_async(worker, [(name, task, problems, share, config, settings, start)
                                           for share in shares])
            start.wait()
            began = time.perf_counter()
            done.get()
            return len(archs) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASK_OPTIONS), default="denoise")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--score", action="append", help="score to time (repeatable; default: psd, psd-hist, lowpass)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--workers", type=int, default=1,
                        help="also time this many processes of one thread scoring at once (e.g. one per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proposal-order", action="store_true",
                        help="score the candidates in the order they were drawn, not as a score round orders them")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = registry.get("tasks", args.task)(**TASK_OPTIONS[args.task])
    problems = degrade_set(task, builtin_regions(args.crop), args.seed)
    settings = task.settings().replace(iters=300, seed=args.seed, device="cpu")
    config = NetConfig(width=args.width)
    space = registry.get("spaces", "nasdip")
    rng = random.Random(args.seed)
    warm_up = [space.sample(random.Random(-1 - args.seed)) for _ in range(5)]
    archs = [space.sample(rng) for _ in range(args.candidates)]
    if not args.proposal_order:
        archs.sort(key=choice_order)
    order = "in the order drawn" if args.proposal_order else "in a score round's order"
    print(f"{args.task}, {len(problems)} crops of {args.crop} px, width {args.width}, {NOISE_INPUTS} noise inputs, "
          f"{args.candidates} random nasdip architectures ({len({Cell.from_choices(a.choices) for a in archs})} cells) "
          f"{order}, {torch.get_num_threads()} torch threads")
    breakdown(task, problems[0], warm_up, config, settings)  # also warms oneDNN up
    build, rebuild, scored, forward = breakdown(task, problems[0], archs, config, settings)
    print(f"  per candidate: build afresh {1000 * build:.1f} ms, rebuild + re-initialise {1000 * rebuild:.1f} ms; "
          f"forward pass as scored {1000 * scored:.1f} ms, whole forward pass {1000 * forward:.1f} ms")
    for name in args.score or ["psd", "psd-hist", "lowpass"]:
        seconds = score_all(name, task, problems, archs, config, settings)
        line = f"  {name:9s} {args.candidates / seconds:6.1f} candidates/s ({1000 * seconds / args.candidates:.1f} ms each)"
        if args.workers > 1:
            rate = parallel_rate(name, args.workers, task, problems, archs, config, settings)
            line += f"; {args.workers} processes of 1 thread: {rate:6.1f} candidates/s"
        print(line, flush=True)

if __name__ == "__main__":
    main()
