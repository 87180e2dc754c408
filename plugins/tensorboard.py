"""TensorBoard logger: every run with a ``logdir`` writes event files that TensorBoard overlays.

Layout under ``logdir``: one sub-directory per fit (``<image>/<arch>``) holding ``fit/loss`` and ``fit/psnr``
curves and the observation, ground truth and restored images, so fits of different architectures appear as
separate runs on the same charts; run-level events (configuration, search progress, best architecture, decision
analysis) go to ``logdir`` itself. A search also writes one HParams session per evaluated trial
(``logdir/trials/NNNN``): the trial's searcher, task, seed, fidelity and every decision as columns, its reward,
metrics, seconds, parameters and FLOPs as metrics, so the dashboard can filter, sort and draw the trials of one
or several searches in parallel coordinates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasdip import hookimpl
from nasdip.search.records import DUPLICATE, FAILED, OK

_writers: dict[str, Any] = {}


def _safe(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/]+", "-", tag).strip("/") or "fit"


def writer_for(logdir: Path, subdir: str = "") -> Any:
    """The (cached) ``SummaryWriter`` for ``logdir/subdir``."""
    from torch.utils.tensorboard import SummaryWriter

    path = str(Path(logdir) / _safe(subdir)) if subdir else str(logdir)
    if path not in _writers:
        _writers[path] = SummaryWriter(log_dir=path)
    return _writers[path]


def close_writers(prefix: str) -> None:
    """Flush and close every writer under ``prefix``."""
    for path in [p for p in _writers if p == prefix or p.startswith(prefix.rstrip("/") + "/")]:
        _writers.pop(path).close()


def _fit_writer(run: Any) -> Any | None:
    if run.logdir is None:
        return None
    return writer_for(run.logdir, run.tag or "fit")


# -- configuration ----------------------------------------------------------------------------------------


def _flatten(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            rows += _flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _search_details(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a search's configuration implies but does not spell out: every task option and the fitting settings
    each candidate gets (the task's defaults at the search's fidelity)."""
    from nasdip.report.columns import task_text

    details: dict[str, Any] = {"task (all options)": task_text(config)}
    try:
        from nasdip.search.settings import SearchSettings

        settings = SearchSettings.from_dict(dict(config))
        details["fit per candidate"] = settings.fit_settings(settings.make_task()).to_dict()
    except Exception:  # a task or setting this version cannot rebuild: the recorded values still stand
        pass
    return details


def config_markdown(config: Mapping[str, Any], search: bool = False) -> str:
    """The run's configuration as a Markdown table (nested settings flattened to ``a.b``)."""
    rows = ["| setting | value |", "|---|---|"]
    values = {**config, **(_search_details(config) if search else {})}
    for key, value in _flatten(values):
        rows.append(f"| {key} | {str(value).replace('|', '&#124;')} |")
    return "\n".join(rows)


# -- restorations -----------------------------------------------------------------------------------------


@hookimpl
def run_started(run) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    writer.add_text("config", config_markdown(run.config, search=run.kind == "search"), 0)
    writer.flush()


@hookimpl
def fit_progress(run, step: int, metrics: Mapping[str, float]) -> None:
    writer = _fit_writer(run)
    if writer is None:
        return
    for key, value in metrics.items():
        writer.add_scalar(f"fit/{key}", value, step)


@hookimpl
def sample_images(run, step: int, images: Mapping[str, Any]) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    for name, image in images.items():
        writer.add_image(f"samples/{name}", image[0].clamp(0, 1).cpu(), step)


@hookimpl
def fit_finished(run, result) -> None:
    writer = _fit_writer(run)
    if writer is None:
        return
    for name, image in run.images.items():
        writer.add_image(f"images/{name}", image[0].clamp(0, 1).cpu(), result.iters)
    writer.add_image("images/restored", result.output[0].clamp(0, 1), result.iters)
    for key, value in result.metrics.items():
        writer.add_scalar(f"final/{key}", value, result.iters)
    writer.add_scalar("final/seconds_per_step", result.seconds / max(result.iters, 1), result.iters)
    writer.flush()


@hookimpl
def run_finished(run) -> None:
    if run.logdir is None:
        return
    search = _searches.pop(str(run.logdir), None)
    if search is not None and search.sessions and not search.experiment_written:
        _write_experiment(run, search)
    close_writers(str(run.logdir))


# -- searches ---------------------------------------------------------------------------------------------


@dataclass
class _SearchLog:
    """What the logger remembers about a search while it runs."""

    origin: float | None = None  # wall-clock time at which the search's elapsed seconds were 0 (this session)
    experiment_written: bool = False
    sessions: int = 0
    metric_keys: dict[str, None] = field(default_factory=dict)
    setting_keys: dict[str, None] = field(default_factory=dict)


_searches: dict[str, _SearchLog] = {}


def _search_log(run: Any) -> _SearchLog:
    return _searches.setdefault(str(run.logdir), _SearchLog())


def reward_label(config: Mapping[str, Any]) -> tuple[str, str]:
    """The reward's name and unit."""
    from nasdip.report.columns import reward_unit

    name = str(config.get("reward", "reward"))
    return name, reward_unit(name)


def progress_tags(config: Mapping[str, Any], rung: int = 0) -> tuple[str, str]:
    """Tags of a search's per-trial reward and best reward so far, named with the reward and its unit; a
    multi-fidelity search has one per-trial chart per rung (rewards of different rungs are not comparable) and
    its best so far is at the top rung."""
    name, unit = reward_label(config)
    suffix = f" ({unit})" if unit else ""
    rungs = len(config.get("ladder") or [None])
    each = f"search/{name} of each trial{suffix}" + (f", rung {rung}" if rungs > 1 else "")
    best = f"search/best {name} so far{suffix}" + (" at the top rung" if rungs > 1 else "")
    return each, best


def _hparam_values(run: Any, trial: Any) -> dict[str, str]:
    from nasdip.report.columns import task_text, trial_setting

    config = run.config
    values = {"searcher": str(config.get("searcher", "")), "seed": str(config.get("seed", "")),
              "task": task_text(config) if "task" in config else "", "run": Path(run.logdir).name,
              "space": str(trial.arch.get("space", "")), "trial": f"{trial.index:04d}"}
    values.update({key: "none" if value is None else str(value) for key, value in trial_setting(trial).items()})
    values.update({name: str(choice) for name, choice in trial.arch.get("choices", {}).items()})
    return values


def _trial_metrics(trial: Any) -> dict[str, float]:
    from nasdip.report.columns import numeric_metrics, trial_cost

    metrics: dict[str, float] = {}
    if trial.reward is not None:
        metrics["trial/reward"] = trial.reward
    metrics.update({f"trial/{key}": value for key, value in numeric_metrics(trial).items()})
    metrics["trial/seconds"] = trial.seconds
    cost = trial_cost(trial)
    if cost is not None:
        metrics["trial/parameters_k"] = cost.params / 1e3
        metrics["trial/gflop_per_step"] = cost.step_flops / 1e9
    return metrics


def _write_session(run: Any, trial: Any, search: _SearchLog, walltime: float) -> None:
    """One HParams row: the trial's settings and decisions as text columns, its results as scalars."""
    from torch.utils.tensorboard import SummaryWriter

    from nasdip.plugins.tensorboard_hparams import session_end_summary, session_start_summary

    values = _hparam_values(run, trial)
    metrics = _trial_metrics(trial)
    search.metric_keys.update(dict.fromkeys(metrics))
    search.setting_keys.update(dict.fromkeys(k for k in values if k == "rung" or k.startswith("fidelity_")))
    with SummaryWriter(log_dir=str(Path(run.logdir) / "trials" / f"{trial.index:04d}")) as writer:
        writer.file_writer.add_summary(session_start_summary(values, walltime - trial.seconds), trial.index,
                                       walltime - trial.seconds)
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, trial.index, walltime=walltime)
        writer.file_writer.add_summary(session_end_summary(trial.status == OK, walltime), trial.index, walltime)
    search.sessions += 1


def _metric_title(tag: str, run: Any, trial_fidelity: Mapping[str, Any]) -> str:
    from nasdip.report.columns import DEFAULT_COST_SIDE, metric_unit, with_unit

    key = tag.removeprefix("trial/")
    if key == "reward":
        name, unit = reward_label(run.config)
        return with_unit(f"reward: {name}", unit)
    if key == "seconds":
        return "seconds (s)"
    if key == "parameters_k":
        return "parameters (thousands)"
    if key == "gflop_per_step":
        side = trial_fidelity.get("crop") or DEFAULT_COST_SIDE
        return f"GFLOP per fitting step ({side}x{side})"
    return with_unit(key, metric_unit(key))


def _write_experiment(run: Any, search: _SearchLog) -> None:
    """The HParams columns: searcher, seed and task shown by default, then run, space, trial, fidelity and every
    decision of the space (with its choices); the metrics seen so far, reward first."""
    from nasdip import registry
    from nasdip.errors import NasdipError
    from nasdip.plugins.tensorboard_hparams import Column, MetricColumn, experiment_summary

    config = run.config
    columns = [Column("searcher", visible=True), Column("seed", visible=True), Column("task", visible=True),
               Column("run"), Column("space"), Column("trial")]
    columns += [Column(key) for key in search.setting_keys]
    try:
        decisions = registry.get("spaces", config.get("space", "")).decisions
    except NasdipError:
        decisions = ()
    columns += [Column(d.name, tuple(str(choice) for choice in d.choices)) for d in decisions]
    fidelity = config.get("fidelity", {}) if isinstance(config.get("fidelity"), Mapping) else {}
    metrics = [MetricColumn(tag, _metric_title(tag, run, fidelity)) for tag in search.metric_keys]
    writer = writer_for(run.logdir)
    writer.file_writer.add_summary(experiment_summary(columns, metrics), 0)
    writer.flush()
    search.experiment_written = True


def _best_architecture_markdown(run: Any, trial: Any) -> str:
    from nasdip.arch.catalog import space_of

    arch = trial.architecture
    name, unit = reward_label(run.config)
    lines = space_of(arch).describe(arch)
    choices = ", ".join(f"{key}={value}" for key, value in arch.choices.items())
    return (f"**trial {trial.index}**: {name} {f'{trial.reward:.4f} {unit}'.strip()} (space {arch.space}, "
            f"digest {trial.digest})\n\n```\n" + "\n".join(lines) + f"\n```\n\nchoices: {choices}")


@hookimpl
def trial_finished(run, trial) -> None:
    if run.logdir is None:
        return
    search = _search_log(run)
    if search.origin is None:
        search.origin = time.time() - trial.elapsed
    walltime = search.origin + trial.elapsed  # "Relative" time on the x axis is the search's own seconds
    writer = writer_for(run.logdir)
    each, best = progress_tags(run.config, trial.rung)
    if trial.reward is not None:
        writer.add_scalar(each, trial.reward, trial.index, walltime=walltime)
    if trial.status == FAILED:
        writer.add_scalar("search/failed", 1.0, trial.index, walltime=walltime)
    if trial.best_reward is not None:
        writer.add_scalar(best, trial.best_reward, trial.index, walltime=walltime)
    if trial.status == OK and trial.reward == trial.best_reward:
        writer.add_text("search/best_architecture", _best_architecture_markdown(run, trial), trial.index,
                        walltime=walltime)
    if trial.status != DUPLICATE:
        _write_session(run, trial, search, walltime)
        if trial.status == OK and not search.experiment_written:
            _write_experiment(run, search)
    writer.flush()


@hookimpl
def searcher_progress(run, step: int, scalars: Mapping[str, float]) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    for key, value in scalars.items():
        writer.add_scalar(f"searcher/{key}", value, step)


@hookimpl
def search_finished(run, summary) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    if summary.best_output is not None:
        writer.add_image("search/best_restoration", summary.best_output[0].clamp(0, 1), summary.trials)
    _write_analysis(writer, summary)
    writer.flush()


def _write_analysis(writer: Any, summary: Any) -> None:
    """The decision analysis of the finished search as a table and a figure (when enough trials were evaluated)."""
    from nasdip.errors import NasdipError
    from nasdip.report.analyze import analysis_figure, analysis_markdown, analyze_runs
    from nasdip.report.figures import figure_tensor

    try:
        analysis = analyze_runs([summary.run_dir])
    except NasdipError as error:
        writer.add_text("analysis/decisions", f"no decision analysis: {error}", summary.trials)
        return
    writer.add_text("analysis/decisions", analysis_markdown(analysis), summary.trials)
    writer.add_image("analysis/decisions", figure_tensor(analysis_figure(analysis)), summary.trials)
