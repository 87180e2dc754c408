"""Rounds-based ASHA against asynchronous ASHA: wall time and worker utilisation on the process executor.

    python benchmarks/asha_async.py [--workers 4] [--budget 27] [--eta 3] [--unit 0.5] [--seeds 0,1,2]

Fits last longer at each rung and vary in length within a rung (automatic stopping ends some early); a round of
``asha`` waits for its slowest job, ``asha-async`` gives a free worker its next job at once. To measure the
scheduling alone, each evaluation here sleeps instead of fitting: rung r of a ``grid`` space (three decisions of
four values; reward = the sum of the decisions, plus a fixed per-architecture offset) sleeps
``unit * eta**r * j`` seconds, ``j`` in [0.5, 1.5] fixed per architecture and rung. The plugin providing the
space and the reward is written to a temporary folder and installed through the ``nasdip`` entry-point group,
so the worker processes load it like any third-party plugin. Sleeping uses no CPU: the numbers hold on a busy
machine.

Prints, per schedule and seed: wall seconds, utilisation (busy worker-seconds / (wall x workers)), evaluations
per rung, and the best reward at the top rung.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from nasdip.search.driver import start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.settings import SearchSettings

PLUGIN = """
    import hashlib, time
    import nasdip
    from nasdip.search.reward import Reward
    from nasdip.arch.space import Decision, Space

    UNIT = {unit}
    ETA = {eta}
    CROPS = {crops}

    class Grid(Space):
        name = "grid"
        decisions = tuple(Decision(f"d{{i}}", (0, 1, 2, 3)) for i in range(3))

        def build(self, arch, config):
            raise RuntimeError("never built: the reward sleeps instead of fitting")

    def fraction(text):
        return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    def sleeping_sum(context):
        rung = CROPS.index(context.problems[0].output_size[0])
        time.sleep(UNIT * ETA ** rung * (0.5 + fraction(f"{{context.arch.digest}}/{{rung}}")))
        return float(sum(context.arch.choices.values())) + fraction(context.arch.digest)

    @nasdip.hookimpl
    def register_spaces(register):
        register(Grid())

    @nasdip.hookimpl
    def register_rewards(register):
        register(Reward("sleeping-sum", sleeping_sum, needs_fit=False))
"""

def install_plugin(root: Path, unit: float, eta: int, crops: list[int]) -> None:
    """Write the sleeping plugin as an installed distribution under ``root`` (visible to worker processes)."""
    (root / "sleeping_plugin.py").write_text(textwrap.dedent(PLUGIN.format(unit=unit, eta=eta, crops=crops)))
    info = root / "sleeping_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sleeping-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nasdip]\nsleeping = sleeping_plugin\n")
    sys.path.insert(0, str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ.pop("NASDIP_LOAD_PLUGINS", None)


def run(schedule: str, seed: int, args, ladder, out: Path) -> dict:
    settings = SearchSettings(searcher="random", task="denoise", space="grid", reward="sleeping-sum",
                              budget=args.budget, batch=args.workers, schedule=schedule, eta=args.eta, ladder=ladder,
                              fidelity=ladder[-1], seed=seed, device="cpu", executor="process", workers=args.workers,
                              executor_options={"process_threads": 1})
    summary = start_search(settings, out / f"{schedule}-{seed}", None).run()
    trials = [json.loads(line) for line in (out / f"{schedule}-{seed}" / "trials.jsonl").read_text().splitlines()]
    busy = sum(t["seconds"] for t in trials)
    return {"schedule": schedule, "seed": seed, "wall": summary.seconds, "busy": busy,
            "utilisation": busy / (summary.seconds * args.workers),
            "per_rung": [sum(t["rung"] == r and t["status"] == "ok" for t in trials) for r in range(len(ladder))],
            "best": summary.best_reward if summary.best_rung == len(ladder) - 1 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--budget", type=int, default=27)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--rungs", type=int, default=3)
    parser.add_argument("--unit", type=float, default=0.5, help="seconds of a rung-0 evaluation (mean)")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    crops = [16 + 8 * r for r in range(args.rungs)]
    with tempfile.TemporaryDirectory() as folder:
        install_plugin(Path(folder), args.unit, args.eta, crops)

        ladder = [Fidelity(iters=10 * args.eta ** r, crop=crop, width=8) for r, crop in enumerate(crops)]
        rows = [run(schedule, int(seed), args, ladder, Path(folder) / "runs")
                for seed in args.seeds.split(",") for schedule in ("asha", "asha-async")]
    print(f"{args.workers} process workers, budget {args.budget}, eta {args.eta}, {args.rungs} rungs, "
          f"sleep {args.unit} s x eta^rung x [0.5, 1.5] per evaluation")
    print(f"{'schedule':10} {'seed':>4} {'wall s':>7} {'busy s':>7} {'utilisation':>11} {'per rung':>10} {'best':>6}")
    for row in rows:
        best = "-" if row["best"] is None else f"{row['best']:.2f}"
        print(f"{row['schedule']:10} {row['seed']:4d} {row['wall']:7.1f} {row['busy']:7.1f} "
              f"{row['utilisation']:11.2f} {' '.join(map(str, row['per_rung'])):>10} {best:>6}")
    for schedule in ("asha", "asha-async"):
        mine = [row for row in rows if row["schedule"] == schedule]
        print(f"{schedule:10} mean wall {statistics.fmean(r['wall'] for r in mine):.1f} s, utilisation "
              f"{statistics.fmean(r['utilisation'] for r in mine):.2f}")


if __name__ == "__main__":
    main()
