"""Do the training-free scores (and the no-reference rewards) rank architectures like the true PSNR, per image?

    python benchmarks/score_agreement.py [--task denoise --task sr --task inpaint] [--archs 40] [--images 5]
        [--image NAME] [--images-dir DIR] [--crop 128] [--width 32] [--iters 1500] [--seed 0] [--results-dir runs]
        [--table-only] [--quick]

For each task (denoising sigma 25, x4 super-resolution, inpainting 50 %) and each validation image
(``../shared/data``: denoise, sr/set5, inpaint; centre crops; never a search image; ``--images-dir`` takes another
folder's), random architectures of the
``nasdip`` space (seeded) plus the presets are

* **scored** on the degraded image by every training-free score (``psd``, ``psd-hist``, ``lowpass``: the untrained
  network only, no fit), exactly as a score rung and ``restore --arch auto`` score them;
* **fitted** on it at the deployment fidelity (``--iters`` steps at most, ``--width``, ``--stop auto`` with 10 %
  held-out pixels): the PSNR of the returned restoration against the clean image is the truth, and the
  held-out PSNR is the no-reference reward of denoising and inpainting (``holdout``);
* **self-validated** where the task can: super-resolution's ``cross-scale`` reward (fit the observation downscaled
  once more, score the fit against the observation; its no-reference reward) and denoising's ``recorrupted``
  (fit the observation with noise of the task's sigma added, score the fit against it with that noise subtracted).

The tables give Kendall's tau between each score or reward and the true PSNR per image, and pooled (each
architecture's mean over the images against its mean PSNR), and the regret of keeping only the top 10 % by it
(the best true PSNR of all the candidates minus the best among those kept; 0 when the kept include the best).
Results are saved after every evaluation (``<results-dir>/score-agreement-<task>.json``) and a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from fidelity import architectures
from ranking import kendall_tau
from time_to_result import TASK_OPTIONS, chosen_problems

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.device import resolve_device
from nasdip.fit.settings import FitSettings
from nasdip.io.files import atomic_write_text
from nasdip.nn.config import NetConfig
from nasdip.report.timing import machine_description
from nasdip.search.evaluate import evaluate
from nasdip.search.jobs import EvalJob

SCORES = ("psd", "psd-hist", "lowpass")
#: Held-out share of the observed pixels in every fit (``--stop auto`` reads them).
HOLDOUT = 0.1
#: The share of candidates a score rung keeps in the regret column.
KEEP = 0.1
#: --quick: toy sizes (random candidates only) that check the harness, not the agreement.
QUICK = {"archs": 4, "images": 1, "crop": 96, "width": 8, "iters": 80}


def candidate_archs(count: int, seed: int, with_presets: bool = True) -> dict[str, dict]:
    """``count`` random ``nasdip`` architectures, then the release's presets and nasdip's searched ones, by label."""
    archs = architectures(count, seed)
    if not with_presets:
        return {label: arch for label, arch in archs.items() if label.startswith("random-")}
    for name, arch in presets().items():
        if name.startswith("searched-"):
            archs[name] = arch.to_dict()
    return archs


def fit_settings(task, args) -> FitSettings:
    settings = task.settings().replace(iters=args.iters, seed=args.seed, device=args.device,
                                       sync_every=min(25, args.iters))
    return FitSettings(**{**settings.to_dict(), "stop": "auto", "holdout": HOLDOUT})


def measurements(task_name: str) -> dict[str, str]:
    """What is measured per (image, architecture), by key: the scores, the fit, the task's self-validation."""
    kinds = {score: score for score in SCORES}
    kinds["fit"] = "psnr"
    validation = registry.get("tasks", task_name).self_validation
    if validation is not None:
        kinds[validation] = validation
    return kinds


def evaluate_all(args, task_name: str, results: dict) -> None:
    """Evaluate what ``results`` lacks, image by image (scores, then fits, then self-validation), saving after each."""
    task = registry.get("tasks", task_name)(**TASK_OPTIONS[task_name])
    settings = fit_settings(task, args).to_dict()
    config = NetConfig(width=args.width).to_dict()
    archs = candidate_archs(args.archs, args.seed, with_presets=not args.quick)
    path = Path(args.results_dir) / f"score-agreement-{task_name}.json"
    for problem in chosen_problems(task, task_name, args):
        for kind, reward in measurements(task_name).items():
            for label, arch in archs.items():
                key = f"{problem.name}|{label}|{kind}"
                if key in results["evaluations"]:
                    continue
                job = EvalJob(trial=0, arch=arch, task=task_name, task_values=TASK_OPTIONS[task_name],
                              problems=[problem.to_dict()], config=config, settings=settings, reward=reward)
                outcome = evaluate(job)
                results["evaluations"][key] = {
                    "status": outcome.status, "error": outcome.error, "reward": outcome.reward,
                    "seconds": outcome.seconds, "psnr": outcome.metrics.get("psnr"),
                    "holdout": outcome.metrics.get("holdout_psnr"), "stop_step": outcome.metrics.get("stop_step")}
                atomic_write_text(path, json.dumps(results))
                if kind not in SCORES:
                    what = f"{outcome.reward:.2f}" if outcome.status == "ok" else outcome.error
                    print(f"  {key}: {outcome.status} {what} ({outcome.seconds:.0f} s)", file=sys.stderr, flush=True)


def columns(evaluations: dict, image: str, labels: Sequence[str], kinds: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per column (the scores, ``holdout``, ``cross-scale`` and the true ``psnr``), the value of each label on
    ``image`` where it was measured."""
    table: dict[str, dict[str, float]] = {}
    for label in labels:
        for kind in kinds:
            row = evaluations.get(f"{image}|{label}|{kind}")
            if row is None or row["status"] != "ok":
                continue
            if kind == "fit":
                for column in ("psnr", "holdout"):
                    if row[column] is not None:
                        table.setdefault(column, {})[label] = row[column]
            else:
                table.setdefault(kind, {})[label] = row["reward"]
    return table


def top_share_regret(predicted: Sequence[float], truth: Sequence[float], share: float = KEEP) -> float:
    """Best truth of all minus the best truth among the ``share`` (at least one) ranked highest by ``predicted``."""
    keep = max(1, round(share * len(predicted)))
    kept = sorted(range(len(predicted)), key=lambda i: predicted[i], reverse=True)[:keep]
    return max(truth) - max(truth[i] for i in kept)


def agreement(column: dict[str, float], truth: dict[str, float]) -> tuple[int, float, float]:
    """``(n, tau, regret of keeping the top share)`` over the labels both have."""
    common = [label for label in column if label in truth and math.isfinite(column[label])]
    if len(common) < 3:
        return len(common), math.nan, math.nan
    predicted, actual = [column[label] for label in common], [truth[label] for label in common]
    return len(common), kendall_tau(predicted, actual), top_share_regret(predicted, actual)


def pooled(per_image: list[dict[str, dict[str, float]]], column: str) -> dict[str, float]:
    """Each label's mean of ``column`` over the images, for the labels measured on every image."""
    tables = [table.get(column, {}) for table in per_image]
    labels = set.intersection(*(set(table) for table in tables)) if tables else set()
    return {label: statistics.fmean(table[label] for table in tables) for label in labels}


def table(results: dict) -> None:
    """Kendall's tau against the true PSNR and the top-10 % regret per image and pooled, one row per image."""
    evaluations = results["evaluations"]
    images = list(dict.fromkeys(key.split("|")[0] for key in evaluations))
    labels = list(dict.fromkeys(key.split("|")[1] for key in evaluations))
    kinds = list(measurements(results["task"]))
    per_image = [columns(evaluations, image, labels, kinds) for image in images]
    validations = [reward.name for _, reward in registry.registrations("rewards") if reward.self_validation]
    names = [name for name in (*SCORES, "holdout", *validations) if any(name in t for t in per_image)]
    print(f"{results['task']}: {results['setup']}")
    print(f"{'image':12} {'n':>3} " + " ".join(f"{'tau ' + name:>15}" for name in names) + "   regret@10% dB: "
          + " ".join(f"{name:>11}" for name in names) + f" {'best PSNR':>9}")
    rows = [*zip(images, per_image, strict=True)]
    if len(images) > 1:
        rows.append(("pooled", {name: pooled(per_image, name) for name in (*names, "psnr")}))
    for image, columns_ in rows:
        truth = columns_.get("psnr", {})
        if len(truth) < 3:
            print(f"{image:12} {len(truth):3d} too few fitted")
            continue
        stats = [agreement(columns_.get(name, {}), truth) for name in names]
        print(f"{image:12} {len(truth):3d} " + " ".join(f"{tau:15.2f}" for _, tau, _ in stats) + "                  "
              + " ".join(f"{regret:11.2f}" for _, _, regret in stats) + f" {max(truth.values()):9.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", choices=sorted(TASK_OPTIONS))
    parser.add_argument("--archs", type=int, default=40, help="random architectures besides the presets")
    parser.add_argument("--images", type=int, default=5, help="validation images per task (the first N)")
    parser.add_argument("--image", action="append", default=None,
                        help="only the images of this name (repeatable; degraded as in a full run)")
    parser.add_argument("--images-dir", default=None,
                        help="the images of this folder, not the validation images (../shared/data/search: to "
                             "study the rewards on images that are not the validation images)")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--iters", type=int, default=1500, help="the fits' step cap (--stop auto within it)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--results-dir", default="runs")
    parser.add_argument("--table-only", action="store_true", help="print the tables of saved results")
    parser.add_argument("--quick", action="store_true", help="toy sizes: a check of the harness")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = resolve_device(args.device)
    print(f"machine: {machine_description(device)}; device {device}")
    for task_name in args.task or ["denoise", "sr", "inpaint"]:
        path = Path(args.results_dir) / f"score-agreement-{task_name}.json"
        setup = (f"{args.crop}x{args.crop} centre crops, width {args.width}, --stop auto within {args.iters} steps, "
                 f"seed {args.seed}, {args.archs} random nasdip architectures + presets")
        results = json.loads(path.read_text()) if path.exists() else {"task": task_name, "setup": setup,
                                                                        "evaluations": {}}
        if not args.table_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            evaluate_all(args, task_name, results)
        table(results)


if __name__ == "__main__":
    main()
