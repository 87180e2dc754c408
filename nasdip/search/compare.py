"""Compare search runs: one summary row per run directory and best-so-far curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasdip.errors import NasdipError
from nasdip.files import atomic_write, read_json
from nasdip.search.records import DUPLICATE, FAILED, OK
from nasdip.search.rundir import RunDirectory


def best_so_far(trials) -> list[dict[str, float]]:
    """One point per evaluation: evaluations so far, best reward so far, seconds since the search started."""
    points, best, evaluations = [], None, 0
    for trial in trials:
        if trial.status == DUPLICATE:
            continue
        evaluations += 1
        if trial.status == OK and (best is None or trial.reward > best):
            best = trial.reward
        points.append({"evaluations": evaluations, "best_reward": best, "seconds": trial.elapsed})
    return points


def summarize_run(path: str | Path) -> dict[str, Any]:
    """Searcher, task, counts, best reward and architecture, duration and curve of one run directory."""
    from nasdip.catalog import space_of

    run = RunDirectory.open(path)
    config = read_run_config(run.path)
    trials = run.trials()  # unreadable or damaged logs are one-line errors naming the file
    ok = [trial for trial in trials if trial.status == OK]
    best = max(ok, key=lambda trial: trial.reward, default=None)
    summary_lines: list[str] = []
    if best is not None:
        try:
            arch = best.architecture
            summary_lines = [line for line in space_of(arch).describe(arch) if not line.startswith("backbone")]
        except NasdipError as error:  # e.g. its space's plugin is not installed here: compare the rest anyway
            summary_lines = [f"(best architecture not shown: {error})"]
    options = ", ".join(f"{k}={v}" for k, v in config.get("task_values", {}).items())
    return {
        "run_dir": str(run.path),
        "searcher": config["searcher"],
        "space": config["space"],
        "task": f"{config['task']} ({options})" if options else config["task"],
        "reward": config["reward"],
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
        "curve": best_so_far(trials),
    }


#: Fields of ``config.json`` a comparison reads.
CONFIG_FIELDS = ("searcher", "space", "task", "reward", "fidelity", "seed")


def read_run_config(run_path: Path) -> dict[str, Any]:
    """A run's ``config.json``; unreadable, non-UTF-8, non-JSON or incomplete files raise one line naming it."""
    path = run_path / "config.json"
    config = read_json(path, "a search run configuration")
    if not isinstance(config, dict):
        raise NasdipError(f"{path}: not a search run configuration (a JSON object expected)")
    missing = [name for name in CONFIG_FIELDS if name not in config]
    if missing:
        raise NasdipError(f"{path}: not a search run configuration (no {missing[0]!r})")
    if not isinstance(config.get("task_values", {}), dict):
        raise NasdipError(f"{path}: 'task_values' must be a JSON object")
    return config


def plot_curves(summaries: list[dict[str, Any]], path: str | Path) -> Path:
    """A PNG with best reward so far against evaluations and against wall-clock seconds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_count, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for summary in summaries:
        points = [p for p in summary["curve"] if p["best_reward"] is not None]
        label = f"{summary['searcher']} ({Path(summary['run_dir']).name})"
        rewards = [p["best_reward"] for p in points]
        style = {"where": "post", "marker": "o", "markersize": 3}  # markers keep a one-trial run visible
        (line,) = by_count.step([p["evaluations"] for p in points], rewards, label=label, **style)
        by_time.step([p["seconds"] for p in points], rewards, color=line.get_color(), **style)
    reward = summaries[0]["reward"] if summaries else "reward"
    by_count.set(xlabel="evaluations", ylabel=f"best {reward} so far")
    by_time.set(xlabel="seconds", ylabel=f"best {reward} so far")
    for axis in (by_count, by_time):
        axis.grid(alpha=0.3)
    by_count.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(path, lambda temporary: figure.savefig(temporary, format="png", dpi=110))
    plt.close(figure)
    return Path(path)
