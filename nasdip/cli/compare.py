"""``nasdip compare``: compare search runs in a table and a plot of best-so-far curves."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write best-so-far curves (against evaluations and seconds) to this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def compare_command(run_dirs: tuple[Path, ...], plot: Path | None, as_json: bool) -> None:
    """Compare search runs: searcher, task, trials, failures, best reward, seconds, best architecture."""
    from nasdip.io.files import check_writable_file
    from nasdip.report.compare import plot_curves, summarize_run

    if plot is not None:  # before reading the runs: a bad --plot is reported at once
        check_writable_file(plot, "--plot")
    summaries = [summarize_run(path) for path in run_dirs]
    if plot is not None:
        plot_curves(summaries, plot)
    if as_json:
        click.echo(json.dumps(summaries))
        return
    for line in table_lines(summaries):
        click.echo(line)
    if plot is not None:
        click.echo(f"wrote {plot}")


def table_lines(summaries: list[dict]) -> list[str]:
    """One row per run (columns as wide as their longest entry: run and task names are never cut), its rungs and
    best architecture below it, then what the columns mean. Runs with ``--baseline-arch`` add its reward."""
    archs = any(s.get("arch_baseline") for s in summaries)

    def score(record: dict | None) -> str:
        return "-" if record is None else f"{record['reward']:.3f}"

    rows = [[Path(s["run_dir"]).name, s["searcher"], s["task"], str(s["trials"]), str(s["failed"]),
             "-" if s["best_reward"] is None else f"{s['best_reward']:.3f}", score(s["baseline"]),
             *([score(s.get("arch_baseline"))] if archs else []), f"{s['seconds']:.0f}"] for s in summaries]
    units = {s["reward_unit"] for s in summaries}
    unit = f" ({units.pop()})" if len(units) == 1 and "" not in units else ""
    header = ["run", "searcher", "task", "trials", "failed", f"best{unit}", f"input{unit}",
              *([f"arch{unit}"] if archs else []), "seconds"]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells: list[str]) -> str:
        left = [cell.ljust(width) for cell, width in zip(cells[:3], widths[:3], strict=True)]
        right = [cell.rjust(width) for cell, width in zip(cells[3:], widths[3:], strict=True)]
        return " ".join(left + right)

    lines = [line(header)]
    for summary, row in zip(summaries, rows, strict=True):
        lines.append(line(row))
        if summary["rungs"] > 1:
            lines.append(f"    evaluations per rung (cheapest first): {' '.join(map(str, summary['per_rung']))}; "
                         f"best at the top rung (the deployment fidelity)")
        lines.extend(f"    {text}" for text in summary["best_summary"][:1])
    rewards = ", ".join(sorted({s["reward"] for s in summaries}))
    lines.append(f"best: the best reward ({rewards}) at the top rung; input: what the observation itself scores "
                 f"(the task's naive restoration: noisy, bicubic, masked input)")
    if archs:
        names = ", ".join(sorted({s["arch_baseline"]["name"] for s in summaries if s.get("arch_baseline")}))
        lines.append(f"arch: the search's --baseline-arch ({names}) fitted at the top rung like a candidate")
    return lines

