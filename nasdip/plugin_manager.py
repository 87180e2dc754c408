"""The plugin manager: built-in plugins, lazily discovered external plugins, and safe lifecycle calls.

External plugins come from the entry-point group ``nasdip``. ``NASDIP_LOAD_PLUGINS`` (a comma-separated list of
entry-point or distribution names; empty means none) restricts which of them load; a name that matches no
installed plugin is warned about. Built-ins always load. An external plugin that fails to import, whose hooks do
not match their specifications, or that implements a hook nasdip does not have (a misspelt name, unless marked
``optionalhook``) is skipped with a warning naming it.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from nasdip import __version__, hookspecs

ENTRY_POINT_GROUP = "nasdip"
LOAD_PLUGINS_ENV = "NASDIP_LOAD_PLUGINS"

#: Modules registered as default plugins, in this order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "nasdip.plugins.spaces",
    "nasdip.plugins.tensorboard",
    "nasdip.plugins.rewards",
    "nasdip.plugins.executors",
    "nasdip.searchers.random",
    "nasdip.searchers.evolution",
    "nasdip.searchers.rl",
    "nasdip.searchers.darts",
    "nasdip.tasks.sr",
    "nasdip.tasks.denoise",
    "nasdip.tasks.inpaint",
    "nasdip.tasks.dehaze",
    "nasdip.tasks.translate",
)


@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin came from: its distribution and version."""

    package: str
    version: str
    builtin: bool


_pm: pluggy.PluginManager | None = None
_sources: dict[str, PluginSource] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, creating it (and loading plugins) on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("nasdip")
        pm.add_hookspecs(hookspecs)
        _register_builtins(pm)
        _pm = pm
        _load_entry_points(pm)
    return _pm


def _register_builtins(pm: pluggy.PluginManager) -> None:
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        _sources[module_name] = PluginSource("nasdip", __version__, builtin=True)


def _allowed_external() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _warn(message: str) -> None:
    warnings.warn(f"nasdip: {message}", RuntimeWarning, stacklevel=3)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = _allowed_external()
    seen: set[str] = set()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        seen.update((entry_point.name, dist_name))
        if allowed is not None and entry_point.name not in allowed and dist_name not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
        except Exception as error:  # a broken plugin must not break nasdip
            _warn(f"plugin {entry_point.name!r} from {dist_name} failed to load and is skipped: "
                  f"{type(error).__name__}: {error}")
            continue
        unknown = unknown_hooks(pm, plugin)
        if unknown:
            pm.unregister(plugin)
            _warn(f"plugin {entry_point.name!r} from {dist_name} is skipped: {unknown[0]}")
            continue
        _sources[entry_point.name] = PluginSource(dist_name, dist.version if dist else "?", builtin=False)
    for name in sorted((allowed or set()) - seen):
        _warn(f"{LOAD_PLUGINS_ENV} names {name!r}, but no installed plugin has that entry-point or distribution "
              f"name (installed: {', '.join(sorted(seen)) or 'none'})")


def unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """One line per hook ``plugin`` implements that nasdip does not specify (pluggy's ``check_pending`` for one
    plugin: hooks marked ``optionalhook`` are allowed), with the closest known hook name."""
    known = [name for name in vars(hookspecs) if getattr(getattr(hookspecs, name), "nasdip_spec", None) is not None]
    problems = []
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; nasdip's hooks: {', '.join(sorted(known))}"
            problems.append(f"it implements {name!r}, which is not a nasdip hook{hint}")
    return problems


def plugin_source(plugin_name: str) -> PluginSource:
    """Distribution and version of a registered plugin (``test`` for plugins registered by hand)."""
    return _sources.get(plugin_name, PluginSource("(registered at run time)", "", builtin=False))


def notify(hook_name: str, **kwargs: Any) -> None:
    """Call a lifecycle hook on every plugin, isolating failures: a broken logger warns, never aborts a run."""
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as error:
            print(
                f"nasdip: plugin {impl.plugin_name!r} failed in {hook_name}: {type(error).__name__}: {error}",
                file=sys.stderr,
            )
