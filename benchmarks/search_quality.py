"""The end-to-end proof: search on the training images, restore the validation images with what was found.

    python benchmarks/search_quality.py --task denoise [--searcher random --searcher evolution --searcher rl]
        [--schedule halving --eta 3 --ladder 100:64:16,300:64:16,1500:96:32 --budget 27 --search-images 3]
        [--deploy 1500:128:32] [--search-seeds 0,1,2] [--out runs/search-quality-<task>] [--skip-references]

1. Each searcher searches the ``nasdip`` space under the multi-fidelity schedule on crops of the search images
   (../shared/data/search, degraded by the task; never the validation images), rewarded by the PSNR of the
   restoration returned at each rung's automatic stop (no oracle).
2. The validation images (../shared/data/denoise, ../shared/data/sr/set5) are restored at the deployment
   fidelity (``--deploy`` iters:crop:width, ``--stop auto``, the task's other settings, the same seeds) with the
   found architecture, ``dip-skip`` and the task's release preset; the table gives the mean PSNR of the returned
   restorations (no oracle) and the found architecture's gain over ``dip-skip``.
3. Each search's compute (fitting steps x pixels and seconds, summed over its trials) is set against what one
   deployment-fidelity fit per candidate would cost (the candidates it started, times the mean cost of its
   top-rung evaluations).

Searches and validation fits are saved under ``--out`` and resumed when the script runs again. Several runs may
share one ``--out`` (e.g. one searcher per core, all but one with ``--skip-references``); a last run with every
searcher prints the whole table from what they saved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from nasdip import registry
from nasdip.arch.catalog import resolve_arch
from nasdip.arch.document import Arch
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.io.crops import crop_square
from nasdip.io.files import atomic_write_text
from nasdip.io.images import list_images, load_image
from nasdip.nn.config import NetConfig
from nasdip.search.driver import resume_search, start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.schedule import build_ladder
from nasdip.search.settings import SearchSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VALIDATION = {"denoise": DATA / "denoise", "sr": DATA / "sr" / "set5"}
TASK_OPTIONS = {"denoise": {"sigma": 25.0}, "sr": {"scale": 4}}
PRESET = {"denoise": "nasdip-denoise", "sr": "nasdip-sr"}


def parse(text: str) -> Fidelity:
    iters, crop, width = (int(part) for part in text.split(":"))
    return Fidelity(iters, crop, width)


def run_name(searcher: str, search_seed: int) -> str:
    """``<searcher>`` for search seed 0 (the first runs' names), else ``<searcher>-seed<N>``."""
    return searcher if search_seed == 0 else f"{searcher}-seed{search_seed}"


def search(args, searcher: str, search_seed: int, search_images: Path) -> dict:
    """Run (or resume, or read) one search; its best architecture and compute."""
    name = run_name(searcher, search_seed)
    run_dir = Path(args.out) / f"search-{name}"
    ladder = build_ladder(*zip(*[(f.iters, f.crop, f.width) for f in map(parse, args.ladder.split(","))],
                               strict=True))
    if not (run_dir / "config.json").exists():
        settings = SearchSettings(searcher=searcher, task=args.task, space="nasdip", task_values=TASK_OPTIONS[args.task],
                                  reward="psnr", budget=args.budget, batch=args.batch, fidelity=ladder[-1],
                                  seed=search_seed, device=args.device, executor=args.executor, workers=args.workers,
                                  images=str(search_images),
                                  stopping={"stop": "auto"}, schedule=args.schedule, eta=args.eta, ladder=ladder)
        driver = start_search(settings, run_dir, search_images)
    else:
        driver = resume_search(run_dir)
    summary = driver.run()
    trials = list(driver.trials.values())
    top = [t for t in trials if t.rung == len(ladder) - 1 and t.status == "ok"]
    started = len({t.digest for t in trials if t.rung == min(t.rung for t in trials)})
    spent = sum(t.metrics.get("step_pixels", 0) for t in trials)
    per_deployment = statistics.fmean(t.metrics["step_pixels"] for t in top) if top else float("nan")
    return {"searcher": searcher, "name": name, "best": summary.best_arch.to_dict() if summary.best_arch else None,
            "best_reward": summary.best_reward, "best_rung": summary.best_rung, "evaluations": summary.evaluated,
            "candidates": len({t.digest for t in trials}), "started": started, "step_pixels": spent,
            "seconds": sum(t.seconds for t in trials), "wall": summary.seconds,
            "deployment_step_pixels": per_deployment,
            "deployment_seconds": statistics.fmean(t.seconds for t in top) if top else float("nan")}


class ValidationCache:
    """Validation PSNRs per label in a JSON file that several runs of this script may share (merged on write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, label: str) -> list[float] | None:
        return self.read().get(label)

    def put(self, label: str, values: list[float]) -> None:
        atomic_write_text(self.path, json.dumps({**self.read(), label: values}))


def validate(args, label: str, arch_spec, cache: ValidationCache) -> list[float]:
    """PSNR of each validation image restored with ``arch_spec`` at the deployment fidelity (cached)."""
    if (cached := cache.get(label)) is not None:
        return cached
    task = registry.get("tasks", args.task)(**TASK_OPTIONS[args.task])
    deploy = parse(args.deploy)
    cleans = [(p.stem, crop_square(load_image(p)[0], deploy.crop)) for p in list_images(VALIDATION[args.task])]
    settings = task.settings().replace(iters=deploy.iters, seed=args.seed, device=args.device)
    settings = FitSettings(**{**settings.to_dict(), "stop": "auto", "holdout": 0.1})
    arch = resolve_arch(arch_spec) if isinstance(arch_spec, str) else arch_spec
    values = []
    for problem in degrade_set(task, cleans, args.seed):
        result = task.fit(FitRequest(task, problem, arch, NetConfig(width=deploy.width), settings))
        values.append(result.metrics["psnr"])
        print(f"  validation {label} {problem.name}: {values[-1]:.2f} dB (step {result.metrics['stop_step']}, "
              f"{result.seconds:.0f} s)", file=sys.stderr, flush=True)
    cache.put(label, values)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(VALIDATION), default="denoise")
    parser.add_argument("--searcher", action="append")
    parser.add_argument("--schedule", default="halving")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--ladder", default="100:64:16,300:64:16,1500:96:32")
    parser.add_argument("--budget", type=int, default=27)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--search-images", type=int, default=3)
    parser.add_argument("--deploy", default="1500:128:32")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation fits (noise and initialisation)")
    parser.add_argument("--search-seeds", type=lambda text: [int(v) for v in text.split(",")], default=[0],
                        help="comma-separated seeds: one search per searcher and seed (default 0)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--executor", default="process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="default runs/search-quality-<task>")
    parser.add_argument("--skip-references", action="store_true",
                        help="validate only the found architectures (another run of this script does the references)")
    args = parser.parse_args()
    args.out = args.out or f"runs/search-quality-{args.task}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = out / "search-images"  # the first --search-images training images, linked (never copied)
    images.mkdir(exist_ok=True)  # several runs of this script may start at once
    for path in list_images(DATA / "search")[: args.search_images]:
        if not (images / path.name).exists():
            (images / path.name).symlink_to(path)
    cache = ValidationCache(out / "validation.json")
    rows = []
    for reference in ("dip-skip", PRESET[args.task]):
        psnr = cache.get(reference) if args.skip_references else validate(args, reference, reference, cache)
        if psnr is not None:
            rows.append({"arch": reference, "psnr": psnr})
    searches = []
    for search_seed in args.search_seeds:
        for searcher in args.searcher or ("random", "evolution", "rl"):
            found = search(args, searcher, search_seed, images)
            searches.append(found)
            rows.append({"arch": f"found by {found['name']}", "searcher": searcher, "seed": search_seed,
                         "psnr": validate(args, f"found-{found['name']}", Arch.from_dict(found["best"]), cache)})
    report(args, rows, searches)


def report(args, rows: list[dict], searches: list[dict]) -> None:
    dip = next((statistics.fmean(row["psnr"]) for row in rows if row["arch"] == "dip-skip"), float("nan"))
    print(f"{args.task}: validation {VALIDATION[args.task].name}, deployment {args.deploy} with --stop auto "
          f"(PSNR of the returned restoration; no oracle); search {args.schedule} eta {args.eta} ladder {args.ladder}, "
          f"budget {args.budget}, {args.search_images} search images")
    print(f"{'architecture':26} {'mean PSNR':>9} {'vs dip-skip':>11}  per image")
    for row in rows:
        mean = statistics.fmean(row["psnr"])
        print(f"{row['arch']:26} {mean:9.2f} {mean - dip:+11.2f}  " + " ".join(f"{v:.2f}" for v in row["psnr"]))
    if len(args.search_seeds) > 1:
        print(f"{'searcher':10} {'seeds':>5} {'mean gain':>9} {'sd':>5} {'min':>6} {'max':>6} {'beats dip-skip':>14}")
        for searcher in dict.fromkeys(row["searcher"] for row in rows if "searcher" in row):
            gains = [statistics.fmean(row["psnr"]) - dip for row in rows if row.get("searcher") == searcher]
            print(f"{searcher:10} {len(gains):5d} {statistics.fmean(gains):+9.2f} {statistics.stdev(gains):5.2f} "
                  f"{min(gains):+6.2f} {max(gains):+6.2f} {sum(g > 0 for g in gains):8d} of {len(gains)}")
        report_paired(rows)
    print(f"{'search':16} {'evals':>5} {'cands':>5} {'Gsteps*px':>9} {'full Gsteps*px':>14} {'ratio':>6} "
          f"{'seconds':>8} {'best reward':>11}")
    for found in searches:
        full = found["started"] * found["deployment_step_pixels"]
        print(f"{found['name']:16} {found['evaluations']:5d} {found['started']:5d} {found['step_pixels'] / 1e9:9.2f} "
              f"{full / 1e9:14.2f} {found['step_pixels'] / full:6.2f} {found['seconds']:8.0f} "
              f"{found['best_reward']:11.2f}")


def paired_with_random(rows: list[dict]) -> dict[str, list[float]]:
    """Each searcher's mean-PSNR difference from ``random``'s, per search seed both were run with."""
    means = {(row["searcher"], row["seed"]): statistics.fmean(row["psnr"]) for row in rows if "searcher" in row}
    return {searcher: [means[searcher, seed] - means["random", seed]
                       for (other, seed) in means if other == searcher and ("random", seed) in means]
            for searcher in dict.fromkeys(name for name, _ in means) if searcher != "random"}


def report_paired(rows: list[dict]) -> None:
    """One line per searcher: its difference from ``random``, paired by search seed."""
    for searcher, diffs in paired_with_random(rows).items():
        if diffs:
            print(f"{searcher} - random, paired by search seed: mean {statistics.fmean(diffs):+.2f} dB, ahead in "
                  f"{sum(d > 0 for d in diffs)} of {len(diffs)} ({' '.join(f'{d:+.2f}' for d in diffs)})")


if __name__ == "__main__":
    main()
