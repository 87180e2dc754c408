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
    click.echo(f"{'run':28} {'searcher':10} {'task':18} {'trials':>6} {'failed':>6} {'best':>8} {'seconds':>8}")
    for s in summaries:
        best = "-" if s["best_reward"] is None else f"{s['best_reward']:.3f}"
        click.echo(f"{Path(s['run_dir']).name[:28]:28} {s['searcher']:10} {s['task'][:18]:18} {s['trials']:>6} "
                   f"{s['failed']:>6} {best:>8} {s['seconds']:>8.0f}")
        if s["rungs"] > 1:
            click.echo(f"    evaluations per rung (cheapest first): {' '.join(map(str, s['per_rung']))}; "
                       f"best at the top rung (the deployment fidelity)")
        for line in s["best_summary"][:1]:
            click.echo(f"    {line}")
    if plot is not None:
        click.echo(f"wrote {plot}")
