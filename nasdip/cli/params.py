"""Click parameter types shared by commands: registry names, finite numbers, seeds."""

from __future__ import annotations

import math
from typing import Any

import click

from nasdip import registry


class RegistryName(click.ParamType):
    """A name from a plugin registry (space, searcher, task, ...); a typo fails naming the valid choices."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = registry.KINDS[kind]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        choices = registry.names(self.kind)
        if value in choices:
            return value
        self.fail(f"unknown {self.name} {value!r}; choose from: {', '.join(choices)}", param, ctx)

    def get_metavar(self, *args: Any, **kwargs: Any) -> str:
        return "[" + "|".join(registry.names(self.kind)) + "]"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str):
        from click.shell_completion import CompletionItem

        return [CompletionItem(name) for name in registry.names(self.kind) if name.startswith(incomplete)]


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
