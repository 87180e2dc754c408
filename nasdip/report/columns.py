"""What describes one search trial in tables and dashboards: its setting (fidelity, rung) and its results.

Everything here is generic: fidelity keys, a ``rung`` attribute and metric names are read from the trial, so new
kinds of trials (multi-fidelity rungs, early-stopping steps) appear without changes. Network size and compute
are computed from the architecture document, once per architecture.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from nasdip import registry
from nasdip.arch.build import NetworkCost, network_cost
from nasdip.arch.document import Arch
from nasdip.errors import NasdipError
from nasdip.nn.config import NetConfig
from nasdip.options import resolve_values
from nasdip.search.records import OK, Trial

#: Image side used for FLOP counts when the search images were not cropped.
DEFAULT_COST_SIDE = 64


def reward_unit(name: str) -> str:
    """The unit of a registered reward (``dB``), or ``""`` when it has none or is not installed."""
    try:
        return registry.get("rewards", name).unit
    except NasdipError:
        return ""


def metric_unit(key: str) -> str:
    """The unit of a trial metric: that of the reward of the same name (``psnr_max`` -> ``psnr-max``), if any."""
    rewards = registry.entries("rewards")
    for name in (key, key.replace("_", "-")):
        if name in rewards:
            return rewards[name].obj.unit
    return ""


def with_unit(label: str, unit: str) -> str:
    """``label (unit)``, or ``label`` alone for unitless quantities."""
    return f"{label} ({unit})" if unit else label


def task_text(config: Mapping[str, Any]) -> str:
    """``task (option=value, ...)`` from a run's configuration (``task``, ``task_values``), every option of an
    installed task included, defaults too (``denoise (sigma=25.0)``)."""
    values = dict(config.get("task_values") or {})
    with contextlib.suppress(NasdipError):  # a task that is not installed (any more): the recorded values
        values = resolve_values(f"task {config['task']!r}", registry.get("tasks", config["task"]).options, values)
    options = ", ".join(f"{key}={value}" for key, value in values.items())
    return f"{config['task']} ({options})" if options else config["task"]


def trial_setting(trial: Trial) -> dict[str, Any]:
    """How hard the trial was evaluated: its ``rung`` (when the trial has one) and every fidelity key."""
    setting: dict[str, Any] = {}
    rung = getattr(trial, "rung", None)
    if rung is not None:
        setting["rung"] = rung
    setting.update({f"fidelity_{key}": value for key, value in (trial.fidelity or {}).items()})
    return setting


def numeric_metrics(trial: Trial) -> dict[str, float]:
    """Every finite number among the trial's metrics (``psnr``, ``ssim``, ``psnr_max``, ``stop_step``, ...)."""
    found = {}
    for key, value in (trial.metrics or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found[key] = value
    return found


_COSTS: dict[tuple[str, int, int], NetworkCost | None] = {}


def trial_cost(trial: Trial) -> NetworkCost | None:
    """Parameters and FLOPs of an evaluated trial's network at its fidelity (width, crop side; RGB output),
    computed once per architecture (on the meta device: nothing is allocated). ``None`` for trials that were not
    evaluated: a failed candidate's network may not build, or may crash or hang the process building it, which is
    why executors build candidates in workers."""
    if trial.status != OK:
        return None
    fidelity = trial.fidelity or {}
    width = int(fidelity.get("width") or NetConfig().width)
    side = int(fidelity.get("crop") or DEFAULT_COST_SIDE)
    key = (trial.digest, width, side)
    if key not in _COSTS:
        try:
            _COSTS[key] = network_cost(Arch.from_dict(trial.arch), NetConfig(width=width), (side, side))
        except Exception:  # an architecture that does not build (a failed trial) has no cost
            _COSTS[key] = None
    return _COSTS[key]
