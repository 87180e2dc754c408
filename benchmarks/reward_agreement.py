"""Does the no-reference ``holdout`` reward rank architectures like PSNR against the clean images?

    python benchmarks/reward_agreement.py [--task denoise --task sr] [--archs 24] [--images 2]
        [--fidelity 1500:96:32:auto] [--results-dir runs]
    python benchmarks/reward_agreement.py --search RUN_DIR [--search RUN_DIR ...]

For each task, random architectures of the ``nasdip`` space plus the presets are fitted on crops of the search
images at one fidelity (default: the deployment fidelity of benchmarks/fidelity.py, with automatic stopping),
and Kendall's tau is computed between the held-out PSNR (observed pixels left out of the fit, no ground truth)
and the PSNR of the returned restoration against the clean image. The fits are the ones benchmarks/fidelity.py
makes (same results file, ``<results-dir>/fidelity-<task>.json``), so running either script fills both tables.

``--search`` reads finished searches instead (run with held-out pixels, e.g. ``--stop auto``, and clean search
images): the same tau for every rung of each search's multi-fidelity ladder, from the trials it evaluated; no
fitting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fidelity import DEPLOYMENT, architectures, parse_fidelity, run
from ranking import kendall_tau, regret

from nasdip.search.rundir import RunDirectory


def agreement_line(label: str, fidelity: str, pairs: list[tuple[float, float]]) -> str:
    """One table row: Kendall's tau between held-out PSNRs and true PSNRs, and the regret of the holdout's pick."""
    if len(pairs) < 3:
        return f"{label:8} {fidelity:20} {len(pairs):3d} too few results"
    holdout, psnr = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    return f"{label:8} {fidelity:20} {len(pairs):3d} {kendall_tau(holdout, psnr):18.2f} {regret(holdout, psnr):9.2f}"


def search_agreement(run_dirs: list[str]) -> None:
    """Agreement per rung of finished searches (each architecture once per rung)."""
    for run_dir in run_dirs:
        by_rung: dict[int, dict[str, tuple[float, float, str]]] = {}
        for trial in RunDirectory(run_dir).trials():
            metrics = trial.metrics or {}
            if trial.status == "ok" and metrics.get("holdout_psnr") is not None and metrics.get("psnr") is not None:
                fidelity = trial.fidelity or {}
                name = ":".join(str(fidelity.get(key, "?")) for key in ("iters", "crop", "width"))
                by_rung.setdefault(trial.rung, {})[trial.digest] = (metrics["holdout_psnr"], metrics["psnr"], name)
        print(f"{run_dir}:")
        for rung, rows in sorted(by_rung.items()):
            name = next(iter(rows.values()))[2]
            print(agreement_line(f"rung {rung}", name, [(h, p) for h, p, _ in rows.values()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", choices=("denoise", "sr", "inpaint"))
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--fidelity", default=DEPLOYMENT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--executor", default="process")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results-dir", default="runs")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--search", action="append", help="a finished search's run directory (no fitting)")
    args = parser.parse_args()
    if args.search:
        print(f"{'rung':8} {'fidelity':20} {'n':>3} {'tau(holdout, PSNR)':>18} {'regret dB':>9}")
        search_agreement(args.search)
        return
    fidelity = parse_fidelity(args.fidelity)
    print(f"{'task':8} {'fidelity':20} {'n':>3} {'tau(holdout, PSNR)':>18} {'regret dB':>9}")
    for task in args.task or ["denoise", "sr"]:
        path = Path(args.results_dir) / f"fidelity-{task}.json"
        results = json.loads(path.read_text()) if path.exists() else {
            "task": task, "images": args.images, "seed": args.seed, "evaluations": {}}
        if not args.table_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            run_args = argparse.Namespace(**{**vars(args), "task": task, "results": str(path)})
            run(run_args, architectures(args.archs, args.seed), [fidelity], results)
        pairs = [(row["holdout"], row["psnr"]) for key, row in results["evaluations"].items()
                 if key.startswith(fidelity["name"] + "|") and row["psnr"] is not None and row["holdout"] is not None]
        print(agreement_line(task, fidelity["name"], pairs))


if __name__ == "__main__":
    main()
