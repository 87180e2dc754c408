"""The plugin manager: plugins discovered through the entry-point group ``nasdip``, and safe lifecycle calls.

Built-in plugins register exactly like third-party ones: nasdip's own distribution declares them in the same
entry-point group (``setup.cfg``), and they load first, so the core names none of them. ``NASDIP_LOAD_PLUGINS`` (a comma-separated list of
entry-point or distribution names; empty means none) restricts which of them load; a name that matches no
installed plugin is warned about. Built-ins always load. An external plugin that fails to import, whose hooks do
not match their specifications, or that implements a hook nasdip does not have (a misspelt name, unless marked
``optionalhook``) is skipped with a warning naming it.
"""

from __future__ import annotations

import difflib
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

@dataclass(frozen=True)
class PluginSource:
    """Where a registered plugin came from: its distribution and version."""

    package: str
    version: str
    builtin: bool


_pm: pluggy.PluginManager | None = None
_sources: dict[str, PluginSource] = {}
#: External plugins skipped while loading, by entry-point name: ``(distribution, why)`` (for ``nasdip plugins``).
_skipped: dict[str, tuple[str, str]] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, creating it (and loading plugins) on first use."""
    global _pm
    if _pm is None:
        _skipped.clear()
        pm = pluggy.PluginManager("nasdip")
        pm.add_hookspecs(hookspecs)
        builtins, external = _entry_points()
        _register_builtins(pm, builtins)
        _pm = pm
        _load_external(pm, external)
    return _pm


def _entry_points() -> tuple[list[metadata.EntryPoint], list[metadata.EntryPoint]]:
    """The group's entry points: nasdip's own (the built-in plugins), then every other distribution's."""
    builtins, external = [], []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        (builtins if _distribution(entry_point) == __name__.split(".")[0] else external).append(entry_point)
    return builtins, external


def _distribution(entry_point: metadata.EntryPoint) -> str:
    return entry_point.dist.metadata["Name"] if entry_point.dist is not None else "?"


def _register_builtins(pm: pluggy.PluginManager, entry_points: list[metadata.EntryPoint]) -> None:
    """Nasdip's own plugins: always loaded (``NASDIP_LOAD_PLUGINS`` does not restrict them); one that fails is a
    bug and raises."""
    if not entry_points:
        _warn("nasdip's built-in plugins are not registered (no 'nasdip' entry points of the nasdip distribution); "
              "install nasdip, e.g. 'pip install -e .' in its source tree")
    for entry_point in entry_points:
        if not pm.has_plugin(entry_point.name):
            pm.register(entry_point.load(), name=entry_point.name)
            _sources[entry_point.name] = PluginSource("nasdip", __version__, builtin=True)


def _allowed_external() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _warn(message: str) -> None:
    warnings.warn(f"nasdip: {message}", RuntimeWarning, stacklevel=3)


#: The problems already warned about, by plugin object: ``id -> (plugin, messages)`` (the plugin is kept so that
#: its id is not reused by another object).
_warned: dict[int, tuple[object, set[str]]] = {}


def warn_once(plugin: object, message: str, stacklevel: int = 3) -> None:
    """Warn ``nasdip: message`` (one line) about the plugin object ``plugin`` once per plugin and message, however
    often the code that finds the problem runs (registry look-ups call every registration hook each time)."""
    _, seen = _warned.setdefault(id(plugin), (plugin, set()))
    if message in seen:
        return
    seen.add(message)
    warnings.warn(f"nasdip: {message}", RuntimeWarning, stacklevel=stacklevel)


def _load_external(pm: pluggy.PluginManager, entry_points: list[metadata.EntryPoint]) -> None:
    allowed = _allowed_external()
    seen: set[str] = set()
    for entry_point in entry_points:
        dist = entry_point.dist
        dist_name = _distribution(entry_point)
        seen.update((entry_point.name, dist_name))
        if allowed is not None and entry_point.name not in allowed and dist_name not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            pm.register(plugin, name=entry_point.name)
        except Exception as error:  # a broken plugin must not break nasdip
            _skip(entry_point.name, dist_name, f"failed to load: {type(error).__name__}: {error}",
                  f"failed to load and is skipped: {type(error).__name__}: {error}")
            continue
        unknown = unknown_hooks(pm, plugin)
        if unknown:
            pm.unregister(plugin)
            _skip(entry_point.name, dist_name, unknown[0], f"is skipped: {unknown[0]}")
            continue
        _sources[entry_point.name] = PluginSource(dist_name, dist.version if dist else "?", builtin=False)
    for name in sorted((allowed or set()) - seen):
        _warn(f"{LOAD_PLUGINS_ENV} names {name!r}, but no installed plugin has that entry-point or distribution "
              f"name (installed: {', '.join(sorted(seen)) or 'none'})")


def _skip(name: str, dist_name: str, reason: str, warning: str) -> None:
    """Record an external plugin that is skipped (``reason``) and warn once, in one line (``warning``)."""
    _skipped[name] = (dist_name, reason)
    _warn(f"plugin {name!r} from {dist_name} {warning}")


def skipped_plugins() -> dict[str, tuple[str, str]]:
    """The external plugins skipped while loading: entry-point name -> ``(distribution, why)``."""
    get_plugin_manager()
    return dict(_skipped)


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
