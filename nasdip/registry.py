"""Look up what plugins registered (spaces, searchers, tasks, executors, rewards) by name.

A plugin whose registration hook raises, or that registers something of the wrong kind (not a ``Searcher``
subclass, a nameless object, ...), is skipped for that kind with a warning naming it; the others work on. Each
such warning is given once per plugin and problem, however often the registry is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nasdip
from nasdip.errors import DuplicateNameError, UnknownNameError
from nasdip.hookspecs import REGISTRY_KINDS
from nasdip.plugin_manager import get_plugin_manager, warn_once

#: Registry kinds and how to name one of their members in messages.
KINDS = REGISTRY_KINDS

#: What each kind must register: ``(class of the public API, registered as a subclass (True) or an instance)``.
EXPECTED: dict[str, tuple[str, bool]] = {
    "spaces": ("Space", False),
    "searchers": ("Searcher", True),
    "tasks": ("Task", True),
    "executors": ("Executor", True),
    "rewards": ("Reward", False),
}


def _warn(plugin: object, message: str) -> None:
    """Warn ``nasdip: message`` about ``plugin``, once per plugin and message."""
    warn_once(plugin, message, stacklevel=4)


@dataclass(frozen=True)
class Entry:
    """One registered thing: its name, the object itself and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str

    @property
    def summary(self) -> str:
        """First line of the object's help text."""
        text = getattr(self.obj, "help", None) or (self.obj.__doc__ or "")
        return text.strip().splitlines()[0] if text.strip() else ""


def collect(kind: str) -> tuple[list[tuple[str, Any, object]], list[tuple[str, str, object]]]:
    """Call every plugin's ``register_<kind>`` hook: the ``(plugin name, object, plugin)`` registrations in
    registration order, unchecked, and the ``(plugin name, error, plugin)`` of each hook that raised (nothing it
    registered counts). Warns about nothing (see :func:`registrations`)."""
    hook = getattr(get_plugin_manager().hook, f"register_{kind}")
    found: list[tuple[str, Any, object]] = []
    failed: list[tuple[str, str, object]] = []
    for impl in hook.get_hookimpls():
        mine: list[tuple[str, Any, object]] = []

        def register(obj: Any, _impl: Any = impl, _mine: list = mine) -> None:
            _mine.append((_impl.plugin_name, obj, _impl.plugin))

        try:
            impl.function(register=register)
        except Exception as error:  # a broken plugin must not break nasdip
            failed.append((impl.plugin_name, f"{type(error).__name__}: {error}", impl.plugin))
            continue
        found.extend(mine)
    return found, failed


def registrations(kind: str) -> list[tuple[str, Any]]:
    """Every ``(plugin name, object)`` pair registered under ``kind``, in registration order, unchecked.

    A plugin whose hook raises is skipped for ``kind`` (nothing it registered counts) with a warning (once).
    """
    found, failed = collect(kind)
    _warn_failed(kind, failed)
    return [(plugin_name, obj) for plugin_name, obj, _ in found]


def _warn_failed(kind: str, failed: list[tuple[str, str, object]]) -> None:
    for plugin_name, error, plugin in failed:
        _warn(plugin, f"plugin {plugin_name!r} failed in register_{kind} and its {kind} are skipped: {error}")


def registration_problem(kind: str, obj: Any) -> str | None:
    """Why ``obj`` cannot be registered as one of ``kind`` (wrong type, no name), or ``None`` when it can."""
    class_name, as_class = EXPECTED[kind]
    base = getattr(nasdip, class_name)
    if as_class and not (isinstance(obj, type) and issubclass(obj, base)):
        return f"expected a subclass of nasdip.{class_name}, got {obj!r}"
    if not as_class and not isinstance(obj, base):
        return f"expected a nasdip.{class_name} instance, got {obj!r}"
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        return f"it has no string 'name': {obj!r}"
    return None


def entries(kind: str) -> dict[str, Entry]:
    """Everything registered under ``kind``, sorted by name; two plugins claiming one name is an error.

    Registrations of the wrong type or without a name are skipped with a warning naming the plugin.
    """
    label = KINDS[kind]
    found: dict[str, Entry] = {}
    registered, failed = collect(kind)
    _warn_failed(kind, failed)
    for plugin, obj, owner in registered:
        problem = registration_problem(kind, obj)
        if problem is not None:
            _warn(owner, f"plugin {plugin!r} registered an invalid {label}, skipped: {problem}")
            continue
        name = obj.name
        if name in found:
            raise DuplicateNameError(
                f"{label} {name!r} is registered by two plugins, {found[name].plugin!r} and {plugin!r}: "
                f"uninstall one of them or restrict NASDIP_LOAD_PLUGINS"
            )
        found[name] = Entry(name, obj, plugin)
    return dict(sorted(found.items()))


def names(kind: str) -> list[str]:
    """Registered names of ``kind``, sorted."""
    return list(entries(kind))


def default_name(kind: str) -> str:
    """The name of the first registered ``kind`` whose object is marked ``default`` (built-ins register first,
    so a plugin cannot silently replace a built-in default); raises when no plugin marks one."""
    for _, obj in registrations(kind):
        if getattr(obj, "default", False):
            return obj.name
    raise UnknownNameError(f"no {KINDS[kind]} is marked as the default; choose one explicitly")


def get(kind: str, name: str) -> Any:
    """The object registered as ``name``; an unknown name raises one line listing the available names."""
    found = entries(kind)
    if name not in found:
        available = ", ".join(found) or "none"
        raise UnknownNameError(f"unknown {KINDS[kind]} {name!r}; available: {available}")
    return found[name].obj
