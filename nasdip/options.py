"""Settings that plugins declare and commands expose as command-line options (:class:`Option`), and the click
parameter types commands share: finite numbers, seeds, learning rates, step counts, network widths (plugins
adding commands use them too).

Every numeric setting has a range: an :class:`Option` declares one (``min``/``max``, each end open or closed) and
:func:`resolve_values` refuses a value outside it, naming the accepted range, before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from nasdip.errors import UsageError


def describe_range(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    """A numeric range in click's notation: ``0<x<=255``, ``x>=1``, ``x<1`` (empty without bounds)."""
    if low is None and high is None:
        return ""
    if low is None:
        return f"x{'<' if high_open else '<='}{high}"
    if high is None:
        return f"x{'>' if low_open else '>='}{low}"
    return f"{low}{'<' if low_open else '<='}x{'<' if high_open else '<='}{high}"


def in_range(value: float, low: float | None, high: float | None, low_open: bool = False,
             high_open: bool = False) -> bool:
    """Whether ``value`` lies within the bounds (``None``: unbounded on that side)."""
    if low is not None and (value <= low if low_open else value < low):
        return False
    return not (high is not None and (value >= high if high_open else value > high))


def is_numeric(kind: Any) -> bool:
    """Whether an option of type ``kind`` (a Python or click type) takes numbers (integers or floats; not flags)."""
    converted = click.types.convert_type(kind)
    return isinstance(converted, (click.types.IntParamType, click.types.FloatParamType))


@dataclass(frozen=True)
class Option:
    """A plugin's own setting (a task's, an executor's, a searcher's), exposed on the command line as
    ``--<name>`` (underscores become dashes; searchers' as ``--searcher-option name=value``).

    ``type`` is a click parameter type or a Python type; ``choices`` restricts the values. A numeric option
    declares its range with ``min`` and ``max`` (``None``: unbounded on that side), each end closed unless
    ``min_open``/``max_open``: ``Option("sigma", float, 25.0, "...", min=0, min_open=True, max=255)`` takes
    ``0 < sigma <= 255``. The default must lie in the range (``None`` means "decided by the plugin"). ``metavar``
    says in ``--help`` what a value is (``MASK.png``; choices are listed by themselves).
    """

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    metavar: str | None = None

    def __post_init__(self) -> None:
        bounded = self.min is not None or self.max is not None
        if bounded and not is_numeric(self.type):
            raise TypeError(f"option {self.name!r}: only numeric options take min/max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"option {self.name!r}: min {self.min} is above max {self.max}")
        if bounded and self.default is not None and not self.accepts(self.default):
            raise ValueError(f"option {self.name!r}: default {self.default!r} lies outside {self.range_text}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def numeric(self) -> bool:
        """Whether the option takes numbers."""
        return is_numeric(self.type)

    @property
    def has_range(self) -> bool:
        """Whether the accepted values are restricted (a range or choices)."""
        return self.min is not None or self.max is not None or self.choices is not None

    @property
    def range_text(self) -> str:
        """The accepted range in click's notation (``0<x<=255``), empty when unbounded."""
        return describe_range(self.min, self.max, self.min_open, self.max_open)

    def accepts(self, value: float) -> bool:
        """Whether ``value`` lies in the option's range."""
        return in_range(value, self.min, self.max, self.min_open, self.max_open)


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
    type, values outside ``choices``, non-finite floats (``nan``, ``inf``) and numbers outside the option's
    range are usage errors (naming the accepted range).

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
        if value is not None and option.numeric and not option.accepts(value):
            raise UsageError(f"{label(name)} must be in the range {option.range_text}, got {value!r}")
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


def checked(kind: click.ParamType, value: Any, flag: str) -> Any:
    """``value`` converted by the click type ``kind`` as if given to ``flag`` on the command line; a bad value is a
    usage error worded like click's (for settings that reach nasdip without passing through click)."""
    try:
        return kind.convert(value, None, None)
    except click.BadParameter as error:
        raise UsageError(f"Invalid value for '{flag}': {error.message}") from None


def named(param_type: click.ParamType, name: str) -> click.ParamType:
    """``param_type`` shown in ``--help`` as ``NAME`` (``--iters STEPS`` rather than ``INTEGER RANGE``)."""
    param_type.name = name
    return param_type


class MultipleOf(click.IntRange):
    """An integer option that must be a multiple of ``step`` within bounds (network widths: 4, 8, 12, ...)."""

    def __init__(self, step: int, min: int | None = None, max: int | None = None) -> None:
        super().__init__(min=min, max=max)
        self.step = step
        self.name = f"multiple of {step}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number % self.step:
            self.fail(f"{number} is not a multiple of {self.step} (accepted: {self.accepted()})", param, ctx)
        return number

    def accepted(self) -> str:
        """The accepted values in words: ``4, 8, 12, ... up to 1024``."""
        first = self.min if self.min is not None else self.step
        values = ", ".join(str(first + self.step * index) for index in range(3))
        return f"{values}, ..." + (f" up to {self.max}" if self.max is not None else "")


#: Largest seed: every random generator nasdip seeds (torch's, Python's) takes 0 .. 2**63 - 1.
MAX_SEED = 2**63 - 1
#: A seed option's type: an integer in 0 .. 2**63 - 1.
SEED = named(click.IntRange(0, MAX_SEED), "seed")
#: A ``--seeds`` option's type: how many fits from consecutive seeds to average (1 .. 64).
SEED_COUNT = named(click.IntRange(1, 64), "count")
#: Largest learning rate: Adam steps above 10 never fit anything (DIP uses 0.001-0.01; from 3 on a fit saturates),
#: and far larger values overflow inside the optimiser.
MAX_LEARNING_RATE = 10.0
#: A learning rate's type: a finite number above zero, at most :data:`MAX_LEARNING_RATE`.
LEARNING_RATE = FiniteFloat(min=0, min_open=True, max=MAX_LEARNING_RATE)
#: Most fitting steps (or steps of a stopping window) one option may ask for: a million steps is days of fitting
#: (the paper's longest protocol is 11000).
MAX_STEPS = 1_000_000
#: A step count's type: 1 .. :data:`MAX_STEPS`.
STEPS = named(click.IntRange(1, MAX_STEPS), "steps")
#: Widest network: the release's networks have 128 channels; 1024 already needs gigabytes at 256x256.
MAX_WIDTH = 1024
#: A network width's type: a multiple of 4 (pixel shuffle splits channels in 4) from 4 to :data:`MAX_WIDTH`.
NETWORK_WIDTH = MultipleOf(4, min=4, max=MAX_WIDTH)
