"""Compare search runs: one summary row per run directory and best-so-far curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasdip.arch.catalog import space_of
from nasdip.errors import NasdipError
from nasdip.report.columns import reward_unit, task_text, with_unit
from nasdip.search.baseline import ARCH_BASELINE
from nasdip.search.records import DUPLICATE, FAILED, OK
from nasdip.search.rundir import RunDirectory


def best_so_far(trials, top_rung: int = 0) -> list[dict[str, float]]:
    """One point per evaluation (at any rung): evaluations so far, the best reward so far at the top rung (the
    deployment fidelity of a multi-fidelity search; ``None`` until one exists), seconds since the search started."""
    points, best, evaluations = [], None, 0
    for trial in trials:
        if trial.status == DUPLICATE:
            continue
        evaluations += 1
        if trial.status == OK and trial.rung == top_rung and (best is None or trial.reward > best):
            best = trial.reward
        points.append({"evaluations": evaluations, "best_reward": best, "seconds": trial.elapsed})
    return points


def summarize_run(path: str | Path) -> dict[str, Any]:
    """Searcher, task, counts, best reward and architecture, duration and curve of one run directory."""
    run = RunDirectory.open(path)
    config = run.config  # checked: one line naming the file and the field
    trials = run.trials()  # unreadable or damaged logs are one-line errors naming the file
    top = len(config.get("ladder") or [None]) - 1
    ok = [trial for trial in trials if trial.status == OK and trial.rung == top]
    best = max(ok, key=lambda trial: trial.reward, default=None)
    summary_lines: list[str] = []
    if best is not None:
        try:
            arch = best.architecture
            summary_lines = [line for line in space_of(arch).describe(arch) if not line.startswith("backbone")]
        except NasdipError as error:  # e.g. its space's plugin is not installed here: compare the rest anyway
            summary_lines = [f"(best architecture not shown: {error})"]
    return {
        "run_dir": str(run.path),
        "searcher": config["searcher"],
        "space": config["space"],
        "task": task_text(config),
        "reward": config["reward"],
        "reward_unit": reward_unit(config["reward"]),
        "fidelity": config["fidelity"],
        "seed": config["seed"],
        "trials": len(trials),
        "evaluated": sum(trial.status in (OK, FAILED) for trial in trials),
        "failed": sum(trial.status == FAILED for trial in trials),
        "duplicates": sum(trial.status == DUPLICATE for trial in trials),
        "best_reward": best.reward if best else None,
        "best_trial": best.index if best else None,
        "best_arch": best.arch if best else None,
        "best_summary": summary_lines,
        "seconds": max((trial.elapsed for trial in trials), default=0.0),
        "curve": best_so_far(trials, top),
        "rungs": top + 1,
        "per_rung": [sum(trial.rung == rung and trial.status != DUPLICATE for trial in trials) for rung in range(top + 1)],
        "baseline": baseline.to_dict() if (baseline := run.load_baseline()) else None,
        "arch_baseline": arch.to_dict() if (arch := run.load_baseline(ARCH_BASELINE)) else None,
    }


def run_labels(summaries: list[dict[str, Any]]) -> list[str]:
    """Short, distinct legend labels: each run directory's name (with parent folders where names clash), prefixed
    by the searcher unless the name already says it (``rl-sr-seed0``, ``random: baseline``)."""
    parts = [Path(summary["run_dir"]).parts or (".",) for summary in summaries]
    depth = 1
    while depth < max(map(len, parts), default=1) and len({p[-depth:] for p in parts}) < len(parts):
        depth += 1
    labels, seen = [], {}
    for summary, path in zip(summaries, parts, strict=True):
        name = "/".join(path[-depth:])
        label = name if summary["searcher"] in name else f"{summary['searcher']}: {name}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels


def curves_figure(summaries: list[dict[str, Any]]):
    """Best reward so far against evaluations and against wall-clock seconds, one line per run; runs of different
    tasks or rewards get their own row of panels (their rewards are not comparable)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    groups: dict[tuple[str, str], list[int]] = {}
    for index, summary in enumerate(summaries):
        groups.setdefault((summary["task"], summary["reward"]), []).append(index)
    labels = run_labels(summaries)
    figure = Figure(figsize=(11, 0.6 + 3.6 * len(groups)), layout="constrained")
    axes = figure.subplots(len(groups), 2, squeeze=False)
    for (by_count, by_time), ((task, reward), members) in zip(axes, groups.items(), strict=True):
        ylabel = with_unit(f"best {reward} so far", reward_unit(reward))
        for index in members:
            points = [p for p in summaries[index]["curve"] if p["best_reward"] is not None]
            rewards = [p["best_reward"] for p in points]
            style = {"where": "post", "marker": "o", "markersize": 3}  # markers keep a one-trial run visible
            (line,) = by_count.step([p["evaluations"] for p in points], rewards, label=labels[index], **style)
            by_time.step([p["seconds"] for p in points], rewards, color=line.get_color(), **style)
            for key, style, what in (("baseline", "--", " input"), ("arch_baseline", ":", "")):
                baseline = summaries[index].get(key)
                if baseline is None:  # the observation's score (below it: no candidate beat doing nothing), or
                    continue          # --baseline-arch's (dip-skip at the deployment fidelity)
                for axis in (by_count, by_time):
                    axis.axhline(baseline["reward"], color=line.get_color(), linestyle=style, linewidth=1)
                by_count.plot([], [], color=line.get_color(), linestyle=style, linewidth=1,
                              label=f"{labels[index]}: {baseline['name']}{what}")
        by_count.set(xlabel="evaluations", ylabel=ylabel, title=f"{task}: best {reward} by evaluations")
        by_time.set(xlabel="wall-clock time (s)", ylabel=ylabel, title=f"{task}: best {reward} by time")
        by_count.xaxis.set_major_locator(MaxNLocator(integer=True))
        for axis in (by_count, by_time):
            axis.grid(alpha=0.3)
        by_count.legend(fontsize=8)
    figure.suptitle("Search progress: best reward found so far")
    return figure


def plot_curves(summaries: list[dict[str, Any]], path: str | Path) -> Path:
    """Write :func:`curves_figure` to ``path`` as PNG (atomically)."""
    from nasdip.report.figures import save_figure

    return save_figure(curves_figure(summaries), path)
