"""nasdip: neural architecture search for Deep Image Prior, as a plugin toolkit.

The public API is this package's namespace: plugins and scripts import from ``nasdip`` (``nasdip.Task``,
``nasdip.Searcher``, ``nasdip.hookimpl``, ...), never from the modules below it, which may move. The import stays
light (no torch): each name loads its module on first use. A fit is ``task.fit(nasdip.FitRequest(...))``
(``nasdip.fit`` is the fitting subpackage).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations: decorate plugin functions with ``@nasdip.hookimpl``.
hookimpl = pluggy.HookimplMarker("nasdip")

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # the plugin kernel
    "registry": "nasdip.registry",
    "Option": "nasdip.options",
    "RunInfo": "nasdip.runinfo",
    "NasdipError": "nasdip.errors",
    "UsageError": "nasdip.errors",
    "ArchError": "nasdip.errors",
    # architectures
    "Arch": "nasdip.arch.document",
    "Space": "nasdip.arch.space",
    "Decision": "nasdip.arch.space",
    "NetConfig": "nasdip.nn.config",
    "presets": "nasdip.arch.catalog",
    "resolve_arch": "nasdip.arch.catalog",
    "build_network": "nasdip.arch.build",
    "network_cost": "nasdip.arch.build",
    # fitting
    "Task": "nasdip.fit.task",
    "Problem": "nasdip.fit.problem",
    "FitSettings": "nasdip.fit.settings",
    "FitRequest": "nasdip.fit.request",
    "FitResult": "nasdip.fit.result",
    "fit_many": "nasdip.fit.packed",
    "fit_seeds": "nasdip.fit.ensemble",
    "restore": "nasdip.fit.restoration",
    "builtin_problem": "nasdip.fit.inputs",
    "user_problem": "nasdip.fit.inputs",
    "ImageInfo": "nasdip.io.images",
    "load_image": "nasdip.io.images",
    "save_image": "nasdip.io.images",
    # search
    "Searcher": "nasdip.search.searcher",
    "SearchContext": "nasdip.search.searcher",
    "FitObjective": "nasdip.search.searcher",
    "Reward": "nasdip.search.reward",
    "RewardContext": "nasdip.search.reward",
    "Executor": "nasdip.search.executor",
    "StreamingExecutor": "nasdip.search.executor",
    "JobSource": "nasdip.search.executor",
    "EvalJob": "nasdip.search.jobs",
    "EvalOutcome": "nasdip.search.jobs",
    "Fidelity": "nasdip.search.jobs",
    "evaluate": "nasdip.search.evaluate",
    "Trial": "nasdip.search.records",
    "SearchSummary": "nasdip.search.records",
    "SearchSettings": "nasdip.search.settings",
}

__all__ = ["__version__", "hookimpl", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nasdip' has no attribute {name!r}")
    value = importlib.import_module(module)
    if module != f"nasdip.{name}":  # a name defined in the module (``registry`` is the module itself)
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from nasdip import registry
    from nasdip.arch.build import build_network, network_cost
    from nasdip.arch.catalog import presets, resolve_arch
    from nasdip.arch.document import Arch
    from nasdip.arch.space import Decision, Space
    from nasdip.errors import ArchError, NasdipError, UsageError
    from nasdip.fit.ensemble import fit_seeds
    from nasdip.fit.inputs import builtin_problem, user_problem
    from nasdip.fit.packed import fit_many
    from nasdip.fit.problem import Problem
    from nasdip.fit.request import FitRequest
    from nasdip.fit.restoration import restore
    from nasdip.fit.result import FitResult
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.io.images import ImageInfo, load_image, save_image
    from nasdip.nn.config import NetConfig
    from nasdip.options import Option
    from nasdip.runinfo import RunInfo
    from nasdip.search.evaluate import evaluate
    from nasdip.search.executor import Executor, JobSource, StreamingExecutor
    from nasdip.search.jobs import EvalJob, EvalOutcome, Fidelity
    from nasdip.search.records import SearchSummary, Trial
    from nasdip.search.reward import Reward, RewardContext
    from nasdip.search.searcher import FitObjective, SearchContext, Searcher
    from nasdip.search.settings import SearchSettings
