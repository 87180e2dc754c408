"""``nasdip analyze``: which decisions of a search made a better prior (reward by choice, importance)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="analyze")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write one figure (importance of every decision, reward by choice of the most important) to "
                   "this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def analyze_command(run_dirs: tuple[Path, ...], plot: Path | None, as_json: bool) -> None:
    """For each decision of the searched space: the mean reward of each choice with a 95% confidence interval,
    the number of trials, and the decision's importance (the share of the reward's variance it explains).

    Several RUN_DIRS (searches of one space, task and reward) are pooled.
    """
    from nasdip.report.analyze import analysis_figure, analysis_lines, analyze_runs

    analysis = analyze_runs(run_dirs)
    if plot is not None:
        from nasdip.report.figures import save_figure

        save_figure(analysis_figure(analysis), plot)
    if as_json:
        click.echo(json.dumps(analysis.to_dict()))
        return
    for line in analysis_lines(analysis):
        click.echo(line)
    if plot is not None:
        click.echo(f"wrote {plot}")
