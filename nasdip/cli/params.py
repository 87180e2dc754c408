"""Click parameter types shared by commands."""

from __future__ import annotations

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
