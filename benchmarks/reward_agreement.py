"""Does the no-reference ``holdout`` reward rank architectures like PSNR against the clean images?

    python benchmarks/reward_agreement.py [--task denoise --task sr] [--archs 24] [--images 2]
        [--fidelity 1500:96:32:auto] [--results-dir runs]

For each task, random architectures of the ``nasdip`` space plus the presets are fitted on crops of the search
images at one fidelity (default: the deployment fidelity of benchmarks/fidelity.py, with automatic stopping),
and Kendall's tau is computed between the held-out PSNR (observed pixels left out of the fit, no ground truth)
and the PSNR of the returned restoration against the clean image. The fits are the ones benchmarks/fidelity.py
makes (same results file, ``<results-dir>/fidelity-<task>.json``), so running either script fills both tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fidelity import DEPLOYMENT, architectures, parse_fidelity, run
from ranking import kendall_tau, regret


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
    args = parser.parse_args()
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
        rows = [row for key, row in results["evaluations"].items()
                if key.startswith(fidelity["name"] + "|") and row["psnr"] is not None and row["holdout"] is not None]
        if len(rows) < 3:
            print(f"{task:8} {fidelity['name']:20} too few results", file=sys.stderr)
            continue
        holdout, psnr = [row["holdout"] for row in rows], [row["psnr"] for row in rows]
        print(f"{task:8} {fidelity['name']:20} {len(rows):3d} {kendall_tau(holdout, psnr):18.2f} "
              f"{regret(holdout, psnr):9.2f}")


if __name__ == "__main__":
    main()
