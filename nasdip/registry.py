"""Look up what plugins registered (spaces, searchers, tasks, executors, rewards) by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasdip.errors import DuplicateNameError, UnknownNameError
from nasdip.hookspecs import REGISTRY_KINDS
from nasdip.plugin_manager import get_plugin_manager

#: Registry kinds and how to name one of their members in messages.
KINDS = REGISTRY_KINDS


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
    """Every ``(plugin name, object)`` pair registered under ``kind``, in registration order, unchecked."""
    hook = getattr(get_plugin_manager().hook, f"register_{kind}")
    found: list[tuple[str, Any]] = []
    for impl in hook.get_hookimpls():
        impl.function(register=lambda obj, _plugin=impl.plugin_name: found.append((_plugin, obj)))
    return found


def entries(kind: str) -> dict[str, Entry]:
    """Everything registered under ``kind``, sorted by name; two plugins claiming one name is an error."""
    label = KINDS[kind]
    found: dict[str, Entry] = {}
    for plugin, obj in registrations(kind):
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin {plugin!r} registered a {label} without a string 'name': {obj!r}")
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
