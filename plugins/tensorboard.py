"""TensorBoard logger: every run with a ``logdir`` writes event files that TensorBoard overlays.

Layout under ``logdir``: one sub-directory per fit (``<image>/<arch>``) holding ``fit/loss`` and ``fit/psnr``
curves and the observation, ground truth and restored images, so fits of different architectures appear as
separate runs on the same charts; run-level events (search trials, best-so-far curves, hyper-parameters) go to
``logdir`` itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasdip import hookimpl

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


@hookimpl
def run_started(run) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    writer.add_text("config", "```\n" + json.dumps(run.config, indent=2, default=str) + "\n```", 0)


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
    if run.logdir is not None:
        close_writers(str(run.logdir))


@hookimpl
def trial_finished(run, trial) -> None:
    if run.logdir is None:
        return
    writer = writer_for(run.logdir)
    if trial.reward is not None:
        writer.add_scalar("search/reward", trial.reward, trial.index)
    if trial.status == "failed":
        writer.add_scalar("search/failed", 1.0, trial.index)
    if trial.best_reward is not None:
        writer.add_scalar("search/best_reward", trial.best_reward, trial.index)
        writer.add_scalar("search/best_reward_vs_seconds", trial.best_reward, int(trial.elapsed))
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
    config = run.config
    fidelity = config.get("fidelity", {})
    hparams = {"searcher": summary.searcher, "space": summary.space, "task": summary.task,
               "reward": config.get("reward", ""), "budget": config.get("budget", 0), "seed": config.get("seed", 0),
               **{f"fidelity_{key}": value if value is not None else 0 for key, value in fidelity.items()}}
    metrics = {"hparam/best_reward": summary.best_reward if summary.best_reward is not None else float("nan"),
               "hparam/evaluated": summary.evaluated, "hparam/seconds": summary.seconds}
    writer.add_hparams(hparams, metrics, run_name=".")
    if summary.best_output is not None:
        writer.add_image("search/best_restoration", summary.best_output[0].clamp(0, 1), summary.trials)
    writer.flush()
