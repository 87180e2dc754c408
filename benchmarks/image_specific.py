"""Does ``nasdip restore --arch auto`` (an architecture chosen for each observation) beat fixed architectures?

    python benchmarks/image_specific.py [--task denoise --task sr --task inpaint] [--images N] [--image NAME] [--crop 128]
        [--width 32] [--seed 0] [--auto-candidates N] [--auto-budget FITS] [--auto-score SCORE] [--auto-reward REWARD]
        [--auto-workers N] [--auto-include ARCHS] [--arm ARM] [--images-dir DIR] [--out runs/image-specific-{task}/results.json]
        [--table-only] [--quick]

**Target**: ``--arch auto`` at least +0.5 dB over ``dip-skip`` on average and above the
dataset-searched architecture, in denoising (sigma 25) and x4 super-resolution, at no more than 3x the compute of
one fit (its cost in plain fits: fitting steps x pixels over one plain fit's).

For each task and validation image (``../shared/data``: denoise, sr/set5, inpaint; the first ``--images``) a centre
crop is degraded as benchmarks/time_to_result.py does (seeded; SR: the crop is the high-resolution ground truth),
and the observation, the ground truth (and for inpainting the mask) are written as 16-bit PNGs (the float
observation to 1/65535, in [0, 1]). Each arm then restores it as a user would, one ``nasdip restore OBS --gt GT --json``
process at a time, with the task's restore defaults (its default stopping rule, precision auto) at ``--width``
and ``--seed``: ``dip-skip``, the task's release preset, the dataset-searched preset (``searched-<task>``; skipped
with a note where it is not registered) and ``--arch auto``. The ground truth only scores the returned
restoration; auto's choice never sees it. Results are saved after every restoration and resumed on a rerun.
``--arm`` plays only the arms named; ``--images-dir`` takes the images of another folder (``../shared/data/search``:
to tune on images that are not the validation images).
``--quick`` is a harness check at toy sizes (used by the tests), ``--table-only`` prints the saved results.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from time_to_result import TASK_OPTIONS, chosen_problems

from nasdip import registry
from nasdip.arch.catalog import presets, resolve_arch
from nasdip.io.files import atomic_write_text
from nasdip.io.images import save_image
from nasdip.report.timing import machine_description

REFERENCE = "dip-skip"
AUTO = "auto"
#: The target: mean gain over dip-skip (dB), at most this many plain fits.
TARGET_GAIN, TARGET_COST = 0.5, 3.0
TARGET_TASKS = ("denoise", "sr")
DEFAULT_OUT = "runs/image-specific-{task}/results.json"
#: The console script's entry point, run with this interpreter.
NASDIP = (sys.executable, "-c", "from nasdip.cli import main; main()")
#: --quick: toy sizes that check the harness (SR's cross-scale reward needs a 20-pixel low-resolution side).
QUICK = {"crop": 96, "width": 8, "iters": 60, "images": 1, "auto_candidates": 4}
AUTO_FLAGS = {"auto_candidates": "--auto-candidates", "auto_budget": "--auto-budget", "auto_score": "--auto-score",
              "auto_reward": "--auto-reward", "auto_workers": "--auto-workers", "auto_include": "--auto-include"}
Record = dict[str, Any]


def arms(name: str, only: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The task's arms in order (dip-skip, release preset, dataset-searched preset, auto; only those in ``only``
    where given) and notes on any skipped."""
    searched = f"searched-{name}"
    names, notes = [REFERENCE, registry.get("tasks", name).default_arch, AUTO], []
    if searched in presets():
        names.insert(2, searched)
    else:
        notes.append(f"note: no preset {searched!r} is registered (no dataset search for {name} yet): that arm is "
                     f"skipped")
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise SystemExit(f"--arm {unknown[0]}: not an arm of {name} (its arms: {', '.join(names)})")
    return [arm for arm in names if not only or arm in only], notes


def setup_of(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """What the saved results must share with this run to be resumed."""
    return {"task": name, "options": TASK_OPTIONS[name], "crop": args.crop, "width": args.width, "seed": args.seed,
            "iters": args.iters, "device": args.device, "images_dir": args.images_dir,
            **{key: getattr(args, key) for key in AUTO_FLAGS}}


def load_results(path: Path, setup: dict[str, Any]) -> dict[str, Any]:
    """The saved results (the same setup; an option they predate counts as not given), else new ones."""
    if not path.exists():
        return {"setup": setup, "images": {}}
    results = json.loads(path.read_text())
    saved = results["setup"]
    if set(saved) - set(setup) or any(saved.get(key) != value for key, value in setup.items()):
        raise SystemExit(f"{path} holds results for {results['setup']}, not {setup}; choose another --out")
    return results


def save_results(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=1))


def write_inputs(problem, folder: Path) -> dict[str, Path]:
    """The observation, ground truth and (inpainting) mask as lossless 16-bit PNGs named after the image."""
    paths = {"observation": folder / f"{problem.name}.png", "gt": folder / f"{problem.name}_gt.png"}
    save_image(paths["observation"], problem.observation, 16)
    save_image(paths["gt"], problem.clean, 16)
    if "mask" in problem.extras:
        paths["mask"] = save_image(folder / f"{problem.name}_mask.png", problem.extras["mask"], 8)
    return paths


def restore_command(name: str, arm: str, inputs: dict[str, Path], out: Path, args: argparse.Namespace) -> list[str]:
    """The ``nasdip restore`` command line of one arm."""
    task_flags = [part for key, value in TASK_OPTIONS[name].items() if key != "drop" for part in (f"--{key}", str(value))]
    if "mask" in inputs:
        task_flags += ["--mask", str(inputs["mask"])]
    command = [*NASDIP, "restore", str(inputs["observation"]), "--task", name, *task_flags, "--gt", str(inputs["gt"]),
               "--arch", arm, "--width", str(args.width), "--seed", str(args.seed), "--device", args.device,
               "--out", str(out), "--json", "--quiet"]
    if args.iters is not None:
        command += ["--iters", str(args.iters)]
    if arm == AUTO:
        command += [part for key, flag in AUTO_FLAGS.items() if getattr(args, key) is not None
                    for part in (flag, str(getattr(args, key)))]
    return command


def run_restore(command: list[str], what: str) -> tuple[dict[str, Any], float]:
    """Run one restoration; its ``--json`` report and wall seconds (the process's, choice and start-up included)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}\n"
                         f"command: {shlex.join(command)}")
    lines = [text for text in done.stdout.splitlines() if text.startswith("{")]
    if not lines:
        raise SystemExit(f"{what} printed no --json report: {done.stdout.strip()[-2000:]}")
    return json.loads(lines[-1]), wall


def record_of(report: dict[str, Any], wall: float) -> Record:
    """What is kept of one restoration's report."""
    record = {key: report.get(key) for key in ("arch", "psnr", "ssim", "psnr_max", "stop_step", "stop_reason",
                                               "seconds", "precision", "device", "compiled")}
    record.update(steps=report["iters"], wall_seconds=round(wall, 3))
    if "auto" in report:
        chosen = resolve_arch(report["arch_file"])
        same = [label for label, arch in presets().items() if arch == chosen]
        record.update(cost=report["auto"]["cost"], chosen=chosen.replace(name=None).label, digest=chosen.digest,
                      same_as=same[0] if same else None, auto=report["auto"], arch_file=report["arch_file"])
    return record


def measure_task(name: str, args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """Every arm on every image, one restoration at a time, skipping those saved in ``path`` already."""
    task = registry.get("tasks", name)(**TASK_OPTIONS[name])
    names, notes = arms(name, args.arm)
    for note in notes:
        print(note, flush=True)
    results = load_results(path, setup_of(args, name))
    results.update(arms=names, notes=notes, baseline=task.baseline_name, machine=machine(args.device),
                   command=command_line(args))
    for problem in chosen_problems(task, name, args):
        done = results["images"].setdefault(problem.name, {})
        missing = [arm for arm in names if arm not in done]
        if not missing:
            continue
        inputs = write_inputs(problem, path.parent / "inputs")
        for arm in missing:
            command = restore_command(name, arm, inputs, path.parent / arm, args)
            report, wall = run_restore(command, f"{name} {problem.name} {arm}")
            done[arm] = record_of(report, wall)
            results.setdefault("baselines", {})[problem.name] = report.get(f"{task.baseline_name}_psnr")
            save_results(path, results)
            print(f"  {problem.name} {arm}: PSNR {done[arm]['psnr']:.2f} dB, {done[arm]['steps']} steps, "
                  f"{wall:.0f} s", flush=True)
    return results


def gains(images: dict[str, dict[str, Record]], other: str) -> dict[str, float]:
    """Auto's PSNR gain over ``other`` per image (where both ran)."""
    return {image: runs[AUTO]["psnr"] - runs[other]["psnr"] for image, runs in images.items()
            if AUTO in runs and other in runs}


def arm_means(images: dict[str, dict[str, Record]], arm: str) -> dict[str, float]:
    """Mean PSNR, SSIM, steps, stop step, fit and wall seconds of one arm (``n``: its images)."""
    rows = [runs[arm] for runs in images.values() if arm in runs]
    keys = ("psnr", "ssim", "steps", "stop_step", "seconds", "wall_seconds")
    means = {key: statistics.fmean(row[key] for row in rows) if rows else math.nan for key in keys}
    return {**means, "n": len(rows)}


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Means per arm; per fixed arm, auto's mean gain and the images it won and lost; auto's mean cost."""
    images, names = results["images"], results["arms"]
    comparisons = {}
    for other in (arm for arm in names if arm != AUTO):
        gain = gains(images, other)
        comparisons[other] = {"mean": statistics.fmean(gain.values()) if gain else math.nan,
                              "won": [image for image, value in gain.items() if value > 0],
                              "lost": [image for image, value in gain.items() if value < 0],
                              "tied": [image for image, value in gain.items() if value == 0]}
    costs = [runs[AUTO]["cost"] for runs in images.values() if AUTO in runs]
    return {"means": {arm: arm_means(images, arm) for arm in names}, "versus": comparisons,
            "cost": statistics.fmean(costs) if costs else math.nan, "max_cost": max(costs, default=math.nan)}


def searched_arm(results: dict[str, Any]) -> str | None:
    found = [arm for arm in results["arms"] if arm.startswith("searched-")]
    return found[0] if found else None


def _number(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def image_table(results: dict[str, Any]) -> list[str]:
    """One row per image: the baseline's and each arm's PSNR, auto's gains over dip-skip and the searched
    architecture, its cost in plain fits and what it chose."""
    names, searched = results["arms"], searched_arm(results)
    compared = [REFERENCE] + ([searched] if searched else [])
    header = f"  {'image':12} {results.get('baseline', 'baseline'):>8} " + " ".join(f"{arm:>16}" for arm in names)
    header += "".join(f" {'auto-' + arm:>22}" for arm in compared) + f" {'cost':>5}  auto chose"
    lines = [f"{results['setup']['task']}: PSNR (dB) of the returned restoration", header]
    for image, runs in results["images"].items():
        row = f"  {image:12} {_number(results.get('baselines', {}).get(image)):>8} "
        row += " ".join(f"{_number(runs[arm]['psnr']) if arm in runs else '-':>16}" for arm in names)
        row += "".join(f" {_number(gains({image: runs}, arm).get(image), sign=True):>22}" for arm in compared)
        auto = runs.get(AUTO, {})
        lines.append(f"{row} {_number(auto.get('cost')):>5}  {auto.get('same_as') or auto.get('chosen') or '-'}")
    return lines


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The means per arm, auto against each fixed arm (mean gain, images won and lost), its mean cost and the
    target."""
    found = summary(results)
    lines = [f"  {'mean':16} {'n':>3} {'PSNR':>6} {'SSIM':>6} {'steps':>6} {'stop':>6} {'fit s':>7} {'wall s':>7}"]
    for arm, means in found["means"].items():
        lines.append(f"  {arm:16} {means['n']:>3} {_number(means['psnr']):>6} {_number(means['ssim'], 3):>6} "
                     f"{_number(means['steps'], 0):>6} {_number(means['stop_step'], 0):>6} "
                     f"{_number(means['seconds'], 1):>7} {_number(means['wall_seconds'], 1):>7}")
    for other, versus in found["versus"].items():
        tied = f"; tied {', '.join(versus['tied'])}" if versus["tied"] else ""
        lines.append(f"  auto - {other}: mean {_number(versus['mean'], sign=True)} dB; won {len(versus['won'])} "
                     f"({', '.join(versus['won']) or '-'}), lost {len(versus['lost'])} "
                     f"({', '.join(versus['lost']) or '-'}){tied}")
    lines.append(f"  auto cost: mean {_number(found['cost'])} plain fits (max {_number(found['max_cost'])})")
    if results["setup"]["task"] in TARGET_TASKS:
        lines.append(target_line(found, searched_arm(results)))
    return lines


def target_line(found: dict[str, Any], searched: str | None) -> str:
    """Whether the target is met: the mean gain over dip-skip, above the searched arm, the mean cost."""
    checks = [found["versus"].get(REFERENCE, {}).get("mean", math.nan) >= TARGET_GAIN, found["cost"] <= TARGET_COST]
    if searched:
        checks.append(found["versus"][searched]["mean"] > 0)
    what = f"above {searched}" if searched else "above the searched architecture (not run)"
    verdict = "not met" if not all(checks) else "met" if searched else "not decided"
    return (f"  target (auto >= +{TARGET_GAIN} dB over {REFERENCE} on average, {what}, <= {TARGET_COST:g} plain "
            f"fits): {verdict}")


def footer(results: dict[str, Any]) -> list[str]:
    """The notes, machine, sizes and command of the results."""
    setup = results["setup"]
    auto = ", ".join(f"{flag} {setup[key]}" for key, flag in AUTO_FLAGS.items() if setup.get(key) is not None)
    steps = "the task's restore defaults" if setup["iters"] is None else f"--iters {setup['iters']}"
    return [*results.get("notes", []), f"machine: {results.get('machine', '-')}",
            f"sizes: {len(results['images'])} images, {setup['crop']}x{setup['crop']} centre crops, width "
            f"{setup['width']}, seed {setup['seed']}, {setup['options']}, {steps}; --arch auto {auto or 'defaults'}",
            f"command: {results.get('command', '-')}"]


def machine(device: str) -> str:
    resolved = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                            "cpu" if device == "auto" else device)
    return machine_description(resolved)


def command_line(args: argparse.Namespace) -> str:
    return shlex.join(["python", "benchmarks/image_specific.py", *args.argv])


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", choices=sorted(TASK_OPTIONS))
    parser.add_argument("--images", type=int, default=None, help="images per task (the first of each set; all)")
    parser.add_argument("--image", action="append", default=None,
                        help="only the images of this name (repeatable; degraded as in a full run)")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iters", type=int, default=None, help="replace every step cap (harness checks only)")
    parser.add_argument("--auto-candidates", type=int, default=None)
    parser.add_argument("--auto-budget", type=float, default=None)
    parser.add_argument("--auto-score", default=None)
    parser.add_argument("--auto-reward", default=None, help="auto's no-reference reward (default: the task's)")
    parser.add_argument("--auto-workers", type=int, default=None, help="fit auto's candidates on N processes")
    parser.add_argument("--auto-include", default=None, help="auto's unscored architectures (none: no one)")
    parser.add_argument("--arm", action="append", default=None, help="only this arm (repeatable)")
    parser.add_argument("--images-dir", default=None, help="the images of this folder, not the validation images")
    parser.add_argument("--out", default=DEFAULT_OUT, help="results file; {task} is replaced by the task")
    parser.add_argument("--table-only", action="store_true", help="print the saved results, restore nothing")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the harness, measures nothing")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value if getattr(args, key) == parser.get_default(key) else getattr(args, key))
    args.task = args.task or ["denoise", "sr"]
    if len(args.task) > 1 and "{task}" not in args.out:
        parser.error("--out needs {task} in its name when several tasks run")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    for name in args.task:
        path = Path(args.out.format(task=name)).resolve()
        if args.table_only:
            if not path.exists():
                raise SystemExit(f"{path}: no saved results")
            results = json.loads(path.read_text())
        else:
            results = measure_task(name, args, path)
        print("\n".join([*image_table(results), *summary_lines(results), *footer(results)]), flush=True)


if __name__ == "__main__":
    main()
