"""Look up what plugins registered (spaces, searchers, tasks, executors, rewards) by name.

A plugin whose registration hook raises, or that registers something of the wrong kind (not a ``Searcher``
subclass, a nameless object, ...), is skipped for that kind with a warning naming it; the others work on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import nasdip
from nasdip.errors import DuplicateNameError, UnknownNameError
from nasdip.hookspecs import REGISTRY_KINDS
from nasdip.plugin_manager import get_plugin_manager

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


def _warn(message: str) -> None:
    warnings.warn(f"nasdip: {message}", RuntimeWarning, stacklevel=3)


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


def registrations(kind: str) -> list[tuple[str, Any]]:
    """Every ``(plugin name, object)`` pair registered under ``kind``, in registration order, unchecked.

    A plugin whose hook raises is skipped for ``kind`` (nothing it registered counts) with a warning.
    """
    hook = getattr(get_plugin_manager().hook, f"register_{kind}")
    found: list[tuple[str, Any]] = []
    for impl in hook.get_hookimpls():
        mine: list[tuple[str, Any]] = []
        try:
            impl.function(register=lambda obj, _plugin=impl.plugin_name, _mine=mine: _mine.append((_plugin, obj)))
        except Exception as error:  # a broken plugin must not break nasdip
            _warn(f"plugin {impl.plugin_name!r} failed in register_{kind} and its {kind} are skipped: "
                  f"{type(error).__name__}: {error}")
            continue
        found.extend(mine)
    return found


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
    for plugin, obj in registrations(kind):
        problem = registration_problem(kind, obj)
        if problem is not None:
            _warn(f"plugin {plugin!r} registered an invalid {label}, skipped: {problem}")
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
