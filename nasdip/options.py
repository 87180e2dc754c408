"""Settings that plugins declare and commands expose as command-line options (:class:`Option`), and the click
parameter types commands share: finite numbers, seeds, learning rates (plugins adding commands use them too)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from nasdip.errors import UsageError


@dataclass(frozen=True)
class Option:
    """A plugin's own setting (a task's, an executor's, a searcher's), exposed on the command line as
    ``--<name>`` (underscores become dashes; searchers' as ``--searcher-option name=value``).

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


def convert(option: Option, value: Any, owner: str) -> Any:
    """``value`` converted to the option's type (``None`` stays ``None``); a bad value is a usage error."""
    if value is None:
        return None
    try:
        return click.types.convert_type(option.type).convert(value, None, None)
    except click.BadParameter as error:
        raise UsageError(f"{owner} option {option.name}: {error.message}") from None


def resolve_values(owner: str, options: Sequence[Option], values: Mapping[str, Any],
                   as_flags: bool = True) -> dict[str, Any]:
    """Defaults overridden by ``values`` (converted to each option's type); unknown names, values of the wrong
    type, values outside ``choices`` and non-finite floats (``nan``, ``inf``) are usage errors.

    ``owner`` names the plugin in messages, e.g. ``task 'sr'``; ``as_flags=False`` names options as ``key``
    (for ``--searcher-option key=value``) instead of ``--key``.
    """

    def label(name: str) -> str:
        return "--" + name.replace("_", "-") if as_flags else name

    known = {option.name: option for option in options}
    unknown = sorted(set(values) - set(known))
    if unknown:
        names = ", ".join(label(option.name) for option in options) or "none"
        raise UsageError(f"{owner} has no option {label(unknown[0])} (its options: {names})")
    resolved = {name: option.default for name, option in known.items()}
    for name, value in values.items():
        option = known[name]
        value = convert(option, value, owner)
        if option.choices is not None and value not in option.choices:
            raise UsageError(f"{label(name)} must be one of {', '.join(map(str, option.choices))}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{label(name)} must be a finite number, got {value!r}")
        resolved[name] = value
    return resolved


class FiniteFloat(click.FloatRange):
    """A float option that must be a finite number (``nan`` and ``inf`` are refused), optionally within bounds.

    Takes :class:`click.FloatRange`'s arguments, e.g. ``FiniteFloat(min=0, min_open=True)`` for a positive number.
    """

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        # click describes an unbounded range as "x<=None"; there is nothing to describe.
        return "" if self.min is None and self.max is None else super()._describe_range()


#: Largest seed: every random generator nasdip seeds (torch's, Python's) takes 0 .. 2**63 - 1.
MAX_SEED = 2**63 - 1
#: A seed option's type: an integer in 0 .. 2**63 - 1.
SEED = click.IntRange(0, MAX_SEED)
#: A ``--seeds`` option's type: how many fits from consecutive seeds to average (1 .. 64).
SEED_COUNT = click.IntRange(1, 64)
#: A learning rate's type: a finite number above zero.
LEARNING_RATE = FiniteFloat(min=0, min_open=True)
