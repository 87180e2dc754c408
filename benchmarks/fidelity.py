"""How well cheap fidelities rank architectures for the deployment fidelity, and what they cost.

    python benchmarks/fidelity.py --task denoise [--archs 24] [--images 2] [--workers 2]
        [--fidelity 100:64:16 --fidelity 300:64:16:auto ...] [--deployment 1500:96:32:auto]
        [--results runs/fidelity-denoise.json]

Random architectures of the ``nasdip`` space (seeded) plus the presets are each evaluated, on crops of the
search images (../shared/data/search, degraded by the task), at every cheap fidelity and at the deployment
fidelity: the restoration's own settings with automatic stopping. A fidelity is ``iters:crop:width`` with
``:auto`` for ``--stop auto`` (held-out pixels, 10 %, are used in every fit). For each cheap fidelity the table
gives Kendall's tau of its ranking (mean PSNR of the returned restorations) against the deployment ranking,
the deployment-PSNR regret of its top pick, and its cost per candidate in fitting steps x pixels and seconds.
The no-reference ``holdout`` reward is ranked the same way. Results are saved after every evaluation and a run
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

from ranking import kendall_tau, regret

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import degrade_set, folder_images
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig
from nasdip.search.jobs import EvalJob

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TASK_OPTIONS = {"denoise": {"sigma": 25.0}, "sr": {"scale": 4}, "inpaint": {"drop": 0.5}}
PRESET_NAMES = ("dip-skip", "nasdip-sr", "nasdip-denoise", "nasdip-inpaint")
CHEAP = ("100:64:16", "300:64:16", "300:64:16:auto", "300:96:32", "300:32:16")
DEPLOYMENT = "1500:96:32:auto"
HOLDOUT = 0.1


def parse_fidelity(text: str) -> dict:
    parts = text.split(":")
    iters, crop, width = (int(part) for part in parts[:3])
    return {"name": text, "iters": iters, "crop": crop, "width": width,
            "stop": parts[3] if len(parts) > 3 else "iters"}


def architectures(count: int, seed: int) -> dict[str, dict]:
    """``count`` random architectures of the ``nasdip`` space and the presets, by label."""
    space = registry.get("spaces", "nasdip")
    rng = random.Random(seed)
    archs = {}
    while len(archs) < count:
        arch = space.sample(rng)
        archs.setdefault(f"random-{arch.digest}", arch.to_dict())
    for name in PRESET_NAMES:
        archs[name] = presets()[name].to_dict()
    return archs


def jobs_for(args, archs: dict[str, dict], fidelities: list[dict], done: dict) -> list[tuple[str, EvalJob]]:
    task = registry.get("tasks", args.task)(**TASK_OPTIONS[args.task])
    problems = {}
    jobs = []
    for fidelity in fidelities:
        if fidelity["crop"] not in problems:
            cleans = folder_images(DATA / "search", fidelity["crop"])[: args.images]
            problems[fidelity["crop"]] = [p.to_dict() for p in degrade_set(task, cleans, args.seed)]
        settings = task.settings().replace(iters=fidelity["iters"], seed=args.seed, device=args.device,
                                           sync_every=min(25, fidelity["iters"]))
        settings = FitSettings(**{**settings.to_dict(), "stop": fidelity["stop"], "holdout": HOLDOUT})
        for label, arch in archs.items():
            key = f"{fidelity['name']}|{label}"
            if key in done:
                continue
            jobs.append((key, EvalJob(trial=len(jobs), arch=arch, task=args.task, task_values=TASK_OPTIONS[args.task],
                                      problems=problems[fidelity["crop"]], config=NetConfig(width=fidelity["width"]).to_dict(),
                                      settings=settings.to_dict(), reward="holdout")))
    return jobs


def run(args, archs, fidelities, results: dict) -> None:
    pending = jobs_for(args, archs, fidelities, results["evaluations"])
    keys = {job.trial: key for key, job in pending}
    executor = registry.get("executors", args.executor)(workers=args.workers)

    def record(outcome) -> None:
        metrics = outcome.metrics
        results["evaluations"][keys[outcome.trial]] = {
            "status": outcome.status, "error": outcome.error, "seconds": outcome.seconds,
            "psnr": metrics.get("psnr"), "holdout": metrics.get("holdout_psnr"), "stop_step": metrics.get("stop_step"),
            "steps": metrics.get("steps"), "step_pixels": metrics.get("step_pixels"),
            "per_image": metrics.get("per_image", {})}
        Path(args.results).write_text(json.dumps(results))
        print(f"  {keys[outcome.trial]}: {outcome.status} psnr {outcome.metrics.get('psnr')} "
              f"({outcome.seconds:.0f} s)", file=sys.stderr, flush=True)

    with executor:
        executor.run([job for _, job in pending], record)


def table(results: dict, fidelities: list[dict], deployment: dict) -> None:
    evaluations = results["evaluations"]
    labels = sorted({key.split("|", 1)[1] for key in evaluations})

    def scores(fidelity, field):
        return {label: evaluations.get(f"{fidelity['name']}|{label}", {}).get(field) for label in labels}

    truth = scores(deployment, "psnr")
    print(f"{results['task']}: {len(labels)} architectures, {results['images']} search images; deployment "
          f"{deployment['name']} (PSNR of the returned restoration, auto stop)")
    print(f"{'fidelity':20} {'reward':8} {'n':>3} {'tau':>6} {'regret dB':>9} {'Msteps*px':>10} {'s/cand':>7}")
    for fidelity in [*fidelities, deployment]:
        for field in ("psnr", "holdout"):
            cheap = scores(fidelity, field)
            common = [label for label in labels if cheap[label] is not None and truth[label] is not None]
            if len(common) < 3:
                continue
            a, b = [cheap[label] for label in common], [truth[label] for label in common]
            rows = [evaluations[f"{fidelity['name']}|{label}"] for label in common]
            cost = statistics.fmean(row["step_pixels"] for row in rows)
            print(f"{fidelity['name']:20} {field:8} {len(common):3d} {kendall_tau(a, b):6.2f} {regret(a, b):9.2f} "
                  f"{cost / 1e6:10.1f} {statistics.fmean(row['seconds'] for row in rows):7.0f}")
    best = sorted(((psnr, label) for label, psnr in truth.items() if psnr is not None), reverse=True)[:5]
    print("deployment ranking, top 5: " + ", ".join(f"{label} {psnr:.2f}" for psnr, label in best))
    for name in PRESET_NAMES:
        if truth.get(name) is not None:
            rank = 1 + sum(1 for value in truth.values() if value is not None and value > truth[name])
            print(f"  {name}: {truth[name]:.2f} dB (rank {rank})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASK_OPTIONS), default="denoise")
    parser.add_argument("--archs", type=int, default=24, help="random architectures besides the presets")
    parser.add_argument("--images", type=int, default=2, help="search images per evaluation")
    parser.add_argument("--fidelity", action="append", help="cheap fidelity iters:crop:width[:auto] (repeatable)")
    parser.add_argument("--deployment", default=DEPLOYMENT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--executor", default="process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", default="fidelity-results.json")
    parser.add_argument("--table-only", action="store_true", help="print the table of saved results")
    args = parser.parse_args()
    fidelities = [parse_fidelity(text) for text in args.fidelity or CHEAP]
    deployment = parse_fidelity(args.deployment)
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {
        "task": args.task, "images": args.images, "seed": args.seed, "evaluations": {}}
    if not args.table_only:
        archs = architectures(args.archs, args.seed)
        # Deployment first: it is the ranking every cheap fidelity is judged against.
        run(args, archs, [deployment, *fidelities], results)
    table(results, fidelities, deployment)


if __name__ == "__main__":
    main()
