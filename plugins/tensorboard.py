"""TensorBoard logger: every run with a ``logdir`` writes event files that TensorBoard overlays.

Layout under ``logdir``: one sub-directory per fit (``<image>/<arch>``) holding ``fit/loss`` and ``fit/psnr``
curves and the observation, ground truth and restored images, so fits of different architectures appear as
separate runs on the same charts; run-level events (configuration, search progress, best architecture, decision
analysis) go to ``logdir`` itself. A search also writes one HParams session per evaluated trial
(``logdir/trials/NNNN``): every decision (numbered in the space's order), the search and its fidelity as
columns, its reward, metrics, seconds, parameters and FLOPs as metrics, so the dashboard can filter, sort and draw
the trials of one or several searches in parallel coordinates.
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


def effective(key: str, value: Any, config: Mapping[str, Any]) -> Any:
    """What an ``auto`` device or precision became on this machine (``auto (cpu)``); other values as given."""
    if value != "auto" or key.rsplit(".", 1)[-1] not in ("device", "precision"):
        return value
    from nasdip.fit.device import resolve_device, resolve_precision

    try:
        device = resolve_device(str(config.get("device", "auto")))
        return f"auto ({device.type if key.endswith('device') else resolve_precision('auto', device)})"
    except Exception:  # a device this machine lacks: the recorded value stands
        return value


def config_markdown(config: Mapping[str, Any], search: bool = False) -> str:
    """The run's configuration as a Markdown table (nested settings flattened to ``a.b``): the values in effect,
    unset ones (``None``, empty) left out."""
    rows = ["| setting | value |", "|---|---|"]
    values = {**config, **(_search_details(config) if search else {})}
    for key, value in _flatten(values):
        if value is None or (isinstance(value, (Mapping, list, tuple, str)) and not value):
            continue
        rows.append(f"| {key} | {str(effective(key, value, config)).replace('|', '&#124;')} |")
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
    top: list[tuple[float, int, list[Any]]] = field(default_factory=list)  # best top-rung trials' restorations
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


def is_count(key: str) -> bool:
    """Whether a trial metric counts (steps, rollbacks: ``stop_step``, ``psnr_max_step``): such metrics are hparam
    text columns, so the dashboard prints them as integers."""
    return key.endswith("_step") or key in ("steps", "rollbacks")


def decision_column(index: int, name: str) -> str:
    """The hparam column of a space's ``index``-th decision (``03 transform``): the dashboard sorts columns by name,
    so the number keeps the order the space declares (cell decisions, then links in matrix order)."""
    return f"{index + 1:02d} {name}"


def _hparam_values(run: Any, trial: Any) -> dict[str, str]:
    """A trial's row: its decisions (numbered in space order), which search it belongs to, its fidelity when the
    search has a ladder, and its step counts. Settings constant over a search (task, seed, space) are in the
    config text instead."""
    from nasdip.report.columns import numeric_metrics, trial_setting

    config = run.config
    values = {decision_column(i, name): str(choice) for i, (name, choice) in enumerate(trial.arch.get("choices",
                                                                                                      {}).items())}
    values.update({"search": Path(run.logdir).name, "searcher": str(config.get("searcher", ""))})
    if len(config.get("ladder") or ()) > 1:
        values.update({key: "none" if value is None else str(value) for key, value in trial_setting(trial).items()})
    counts = numeric_metrics(trial)
    values.update({key: f"{value:.0f}" for key, value in counts.items() if is_count(key)})
    return values


def reward_metric(config: Mapping[str, Any]) -> str | None:
    """The trial metric the reward repeats (``psnr`` for the ``psnr`` reward, ``psnr_max`` for ``psnr-max``,
    ``holdout_psnr`` for ``holdout``), left out of the dashboard's columns: one reward column."""
    name = str(config.get("reward", "")).replace("-", "_")
    return {"holdout": "holdout_psnr"}.get(name, name) or None


def _trial_metrics(trial: Any, config: Mapping[str, Any]) -> dict[str, float]:
    from nasdip.report.columns import numeric_metrics, trial_cost

    metrics: dict[str, float] = {}
    if trial.reward is not None:
        metrics["trial/reward"] = trial.reward
    repeated = reward_metric(config)
    metrics.update({f"trial/{key}": value for key, value in numeric_metrics(trial).items()
                    if key != repeated and not is_count(key) and key != "step_pixels"})
    metrics["trial/seconds"] = trial.seconds
    cost = trial_cost(trial)
    if cost is not None:
        metrics["trial/parameters_k"] = cost.params / 1e3
        metrics["trial/gflop_per_step"] = cost.step_flops / 1e9
    return metrics


#: How many of the best candidates at the top rung ``search/top_candidates`` shows.
TOP_CANDIDATES = 4


def at_top_rung(config: Mapping[str, Any], trial: Any) -> bool:
    """Whether ``trial`` was evaluated at the search's deployment fidelity (the last rung of its ladder)."""
    return trial.rung == max(len(config.get("ladder") or ()), 1) - 1


def _write_curves(writer: Any, curves: Mapping[str, Any]) -> None:
    """A candidate's mean learning curves against its fitting steps (``candidate/loss``, ``candidate/psnr (dB)``,
    ...), in its HParams run: one line per candidate."""
    from nasdip.report.columns import metric_unit, with_unit

    for name, points in curves.items():
        tag = "candidate/" + with_unit(name, "dB" if name.endswith("psnr") else metric_unit(name))
        for step, value in points:
            writer.add_scalar(tag, value, step)


def _keep_top(search: _SearchLog, trial: Any, outputs: list[Any]) -> None:
    search.top.append((trial.reward, trial.index, [output.detach().float().cpu() for output in outputs]))
    search.top.sort(key=lambda kept: (-kept[0], kept[1]))
    del search.top[TOP_CANDIDATES:]


def top_candidates_image(top: list[tuple[float, int, list[Any]]], unit: str) -> Any:
    """One row per kept candidate (best first): its restorations of the search images, captioned with the trial
    and its reward."""
    import torch
    import torch.nn.functional as F

    from nasdip.io.panels import Panel, side_by_side

    height = max(96, *(output.shape[-2] for _, _, outputs in top for output in outputs))
    rows = []
    for reward, index, outputs in top:
        caption = (f"trial {index}", f"{reward:.3f} {unit}".strip())
        rows.append(side_by_side([Panel(F.interpolate(output.clamp(0, 1), size=(height, round(
            output.shape[-1] * height / output.shape[-2])), mode="nearest"), caption) for output in outputs]))
    width = max(row.shape[-1] for row in rows)
    return torch.cat([F.pad(row, (0, width - row.shape[-1]), value=1.0) for row in rows], dim=-2)


def _write_session(run: Any, trial: Any, search: _SearchLog, walltime: float, curves: Mapping[str, Any]) -> None:
    """One HParams row: the trial's settings and decisions as text columns, its results as scalars; a top-rung
    candidate's learning curves beside them."""
    from torch.utils.tensorboard import SummaryWriter

    from nasdip.plugins.tensorboard_hparams import session_end_summary, session_start_summary

    values = _hparam_values(run, trial)
    metrics = _trial_metrics(trial, run.config)
    search.metric_keys.update(dict.fromkeys(metrics))
    search.setting_keys.update(dict.fromkeys(k for k in values if k[:1].isalpha()))
    with SummaryWriter(log_dir=str(Path(run.logdir) / "trials" / f"{trial.index:04d}")) as writer:
        writer.file_writer.add_summary(session_start_summary(values, walltime - trial.seconds), trial.index,
                                       walltime - trial.seconds)
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, trial.index, walltime=walltime)
        writer.file_writer.add_summary(session_end_summary(trial.status == OK, walltime), trial.index, walltime)
        _write_curves(writer, curves)
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
    if key == "psnr_max":
        return "psnr_max: oracle, best PSNR over all steps (dB)"
    return with_unit(key, metric_unit(key))


def _write_experiment(run: Any, search: _SearchLog) -> None:
    """The HParams columns: every decision of the space in its order (with its choices; the first five shown by
    default), then the search, searcher, fidelity and step counts; the metrics seen so far, reward first."""
    from nasdip import registry
    from nasdip.errors import NasdipError
    from nasdip.plugins.tensorboard_hparams import Column, MetricColumn, experiment_summary

    config = run.config
    try:
        decisions = registry.get("spaces", config.get("space", "")).decisions
    except NasdipError:
        decisions = ()
    columns = [Column(decision_column(i, d.name), tuple(str(choice) for choice in d.choices), visible=True)
               for i, d in enumerate(decisions)]
    columns += [Column(key) for key in search.setting_keys]
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
def trial_finished(run, trial, evaluation) -> None:
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
    top = trial.status == OK and evaluation is not None and at_top_rung(run.config, trial)
    if top and evaluation.outputs:
        _keep_top(search, trial, evaluation.outputs)
    if trial.status != DUPLICATE:
        _write_session(run, trial, search, walltime, evaluation.curves if top else {})
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
    for baseline in (summary.baseline, summary.arch_baseline):
        if baseline is not None and summary.trials:
            _write_baseline(run, baseline, summary.trials)
    search = _searches.get(str(run.logdir))
    if search is not None and search.top:
        image = top_candidates_image(search.top, reward_label(run.config)[1])
        writer.add_image("search/top_candidates", image[0], summary.trials)
    _write_analysis(writer, summary)
    writer.flush()


def _write_baseline(run: Any, baseline: Any, trials: int) -> None:
    """A baseline as a flat line in the best-so-far chart, in a run of its own: what the observation itself
    scores (``<search>/baseline-noisy-input``; a search whose best stays below it beat doing nothing nowhere) or
    what ``--baseline-arch`` scores (``<search>/baseline-dip-skip``)."""
    _, best = progress_tags(run.config)
    writer = writer_for(run.logdir, f"baseline: {baseline.name}{'' if baseline.arch else ' input'}")
    for step in (0, trials - 1):
        writer.add_scalar(best, baseline.reward, step)
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
