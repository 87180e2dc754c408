"""Plugin-specific command-line options (tasks', executors').

Commands that take ``--task`` (or ``--executor``) accept the options of every registered task (executor); each
plugin declares them as :class:`nasdip.options.Option`. After parsing, only the chosen plugin's options may have
been given. Float options must be finite numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import click

from nasdip import registry
from nasdip.cli.params import FiniteFloat
from nasdip.errors import UsageError
from nasdip.options import Option


def declared_options(kind: str) -> dict[str, tuple[Option, list[str]]]:
    """Every option of plugins of ``kind`` by name, with the plugins that declare it (types must agree)."""
    found: dict[str, tuple[Option, list[str]]] = {}
    for name, entry in registry.entries(kind).items():
        for option in entry.obj.options:
            if option.name in found:
                first, owners = found[option.name]
                if first.type is not option.type:
                    raise TypeError(f"{kind} {owners[0]!r} and {name!r} declare option {option.flag} with different types")
                owners.append(name)
            else:
                found[option.name] = (option, [name])
    return found


def plugin_options(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding the options of every plugin of ``kind`` (default ``None`` = the plugin's default)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        return _add_options(kind, function)

    return decorate


def task_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add every task's options to a command."""
    return _add_options("tasks", function)


def _add_options(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    for option, owners in reversed(list(declared_options(kind).values())):
        choices = f" [{'|'.join(map(str, option.choices))}]" if option.choices else ""
        default = "" if option.default is None else f" (default {option.default})"
        function = click.option(
            option.flag, option.name, type=FiniteFloat() if option.type is float else option.type, default=None,
            help=f"{', '.join(owners)}: {option.help}{choices}{default}",
        )(function)
    return function


def pop_plugin_values(kind: str, chosen_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Remove the options of plugins of ``kind`` from a command's keyword arguments; return those given for
    ``chosen_name``. An option that belongs to other plugins only is a usage error naming the chosen one's."""
    chosen: dict[str, Any] = {}
    for name, (option, owners) in declared_options(kind).items():
        value = values.pop(name, None)
        if value is None:
            continue
        if chosen_name not in owners:
            plugin = registry.get(kind, chosen_name)
            flags = ", ".join(o.flag for o in plugin.options) or "none"
            raise UsageError(f"{option.flag} is not an option of {registry.KINDS[kind]} {chosen_name!r} "
                             f"(its options: {flags})")
        chosen[name] = value
    return chosen


def pop_task_values(task_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The chosen task's options (see :func:`pop_plugin_values`)."""
    return pop_plugin_values("tasks", task_name, values)


def build_command(name: str, function: Callable[..., Any], decorators: Sequence[Callable]) -> click.Command:
    """A fresh click command around ``function`` (outermost decorator first).

    Commands whose options come from the registry are built at each look-up, so plugins registered at run
    time (tests, notebooks) get their options too.
    """

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    for decorator in reversed(decorators):
        call = decorator(call)
    return click.command(name=name)(call)
