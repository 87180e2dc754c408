"""Task-specific command-line options.

Commands that take ``--task`` accept the options of every registered task (each task declares them as
:class:`nasdip.task.TaskOption`); after parsing, only the chosen task's options may have been given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import click

from nasdip import registry
from nasdip.errors import UsageError
from nasdip.task import TaskOption


def declared_options() -> dict[str, tuple[TaskOption, list[str]]]:
    """Every task option by name, with the tasks that declare it (types must agree across tasks)."""
    found: dict[str, tuple[TaskOption, list[str]]] = {}
    for name, entry in registry.entries("tasks").items():
        for option in entry.obj.options:
            if option.name in found:
                first, owners = found[option.name]
                if first.type is not option.type:
                    raise TypeError(f"tasks {owners[0]!r} and {name!r} declare option {option.flag} with different types")
                owners.append(name)
            else:
                found[option.name] = (option, [name])
    return found


def task_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add every task's options to a command (default ``None`` = the task's own default)."""
    for option, owners in reversed(list(declared_options().values())):
        choices = f" [{'|'.join(map(str, option.choices))}]" if option.choices else ""
        default = "" if option.default is None else f" (default {option.default})"
        function = click.option(
            option.flag, option.name, type=option.type, default=None,
            help=f"{', '.join(owners)}: {option.help}{choices}{default}",
        )(function)
    return function


def pop_task_values(task_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Remove the task options from a command's keyword arguments; return those given for ``task_name``.

    An option that belongs to other tasks only is a usage error naming the chosen task's options.
    """
    chosen: dict[str, Any] = {}
    for name, (option, owners) in declared_options().items():
        value = values.pop(name, None)
        if value is None:
            continue
        if task_name not in owners:
            task = registry.get("tasks", task_name)
            flags = ", ".join(o.flag for o in task.options) or "none"
            raise UsageError(f"{option.flag} is not an option of task {task_name!r} (its options: {flags})")
        chosen[name] = value
    return chosen


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
