"""Fits per minute: K fits of one architecture one after another, against the same K fits packed in one network.

    python benchmarks/packed.py [--members 1 --members 2 --members 4 --members 8]
                                [--case 64:16 --case 128:32] [--arch dip-skip --arch nasdip-sr]
                                [--iters 500] [--task denoise] [--device auto] [--precision auto]
                                [--grouped-max-pixels 0] [--json]

For every architecture and case (image side:network width) the step time of one fit (the plain engine) and of K
packed fits are measured in this process (median of 5 windows of 5 steps after 3 warm-up steps, guard and
synchronisations included) and turned into fits of ``--iters`` steps per minute. Fits one after another cost K
times one fit. The first line names the processor and whether it computes bf16 natively.
"""

from __future__ import annotations

import argparse
import json

from nasdip import registry
from nasdip.arch.catalog import resolve_arch
from nasdip.fit.device import resolve_device
from nasdip.nn import packed
from nasdip.report.packed_speed import format_packed_rows, packed_rows
from nasdip.report.timing import machine_description


def parse_case(text: str) -> tuple[int, int]:
    size, _, width = text.partition(":")
    return int(size), int(width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", action="append", type=int, default=None)
    parser.add_argument("--case", action="append", type=parse_case, default=None, help="SIZE:WIDTH (repeatable).")
    parser.add_argument("--arch", action="append", default=None)
    parser.add_argument("--iters", type=int, default=500, help="Steps of one fit, for fits per minute.")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--grouped-max-pixels", type=int, default=packed.GROUPED_MAX_PIXELS,
                        help="Packed dense convolutions on feature maps of at most this many pixels run grouped "
                             "(0: never; exact members).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    packed.GROUPED_MAX_PIXELS = args.grouped_max_pixels
    task = registry.get("tasks", args.task)()
    settings = task.settings().replace(device=args.device, precision=args.precision)
    archs = [resolve_arch(name) for name in args.arch or ["dip-skip", "nasdip-sr"]]
    rows = packed_rows(task, archs, args.case or [(64, 16), (128, 32)], args.members or [1, 2, 4, 8], settings,
                       args.iters)
    machine = machine_description(resolve_device(args.device))
    if args.json:
        print(json.dumps({"machine": machine, "task": task.name, "grouped_max_pixels": args.grouped_max_pixels,
                          "rows": rows}))
        return
    print(f"{machine}; {task.describe()}; grouped convolutions up to {args.grouped_max_pixels} pixels")
    for line in format_packed_rows(rows, args.iters):
        print(line)


if __name__ == "__main__":
    main()
