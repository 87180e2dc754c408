"""Settings that plugins declare and commands expose as command-line options."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasdip.errors import UsageError


@dataclass(frozen=True)
class Option:
    """A plugin's own setting (a task's, an executor's), exposed on the command line as ``--<name>``
    (underscores become dashes).

    ``type`` is a click parameter type or a Python type; ``choices`` restricts the values.
    """

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def resolve_values(owner: str, options: Sequence[Option], values: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``values``; unknown names, values outside ``choices`` and non-finite floats (``nan``,
    ``inf``) are usage errors.

    ``owner`` names the plugin in messages, e.g. ``task 'sr'``.
    """
    known = {option.name: option for option in options}
    unknown = sorted(set(values) - set(known))
    if unknown:
        flags = ", ".join(option.flag for option in options) or "none"
        raise UsageError(f"{owner} has no option --{unknown[0].replace('_', '-')} (its options: {flags})")
    resolved = {name: option.default for name, option in known.items()}
    for name, value in values.items():
        option = known[name]
        if option.choices is not None and value not in option.choices:
            raise UsageError(f"{option.flag} must be one of {', '.join(map(str, option.choices))}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{option.flag} must be a finite number, got {value!r}")
        resolved[name] = value
    return resolved
