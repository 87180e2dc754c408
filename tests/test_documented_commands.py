"""Every ``nasdip ...`` command line shown in the README, the documentation and the commands' help examples parses against the real command line:
an unknown command, option or value fails here (nothing is run)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from nasdip.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(?:sh|bash|console|shell)\n(.*?)^```", re.M | re.S)


def documented_commands() -> list[tuple[str, list[str]]]:
    """``(where, arguments)`` of every ``nasdip`` line in a shell code block (continuations joined, comments cut)."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for block in FENCE.finditer(text):
            first_line = text[: block.start()].count("\n") + 2
            joined = block.group(1).replace("\\\n", " ")
            for offset, line in enumerate(joined.splitlines()):
                words = shlex.split(line, comments=True)
                if words and words[0] == "nasdip":
                    found.append((f"{page.relative_to(ROOT)}:{first_line + offset}", words[1:]))
    return found


def parse(arguments: list[str]) -> None:
    """Parse ``nasdip ARGUMENTS`` down to the last subcommand, as the command line would, without running it."""
    command: click.Command = type(cli)(name="nasdip", commands={})  # fresh: plugin commands registered now count
    context = command.make_context("nasdip", list(arguments))
    while isinstance(command, click.Group):
        rest = [*context._protected_args, *context.args]
        if not rest:
            return
        name, command, rest = command.resolve_command(context, rest)
        context = command.make_context(name, rest, parent=context)


def help_examples() -> list[tuple[str, list[str]]]:
    """``(where, arguments)`` of every example ending a command's ``--help``."""
    context = click.Context(cli)
    found = []
    for name in cli.list_commands(context):
        for example in getattr(cli.get_command(context, name), "examples", ()):
            found.append((f"nasdip {name} --help", shlex.split(example, comments=True)[1:]))
    return found


COMMANDS = documented_commands() + help_examples()


def test_the_pages_show_commands():
    assert len(COMMANDS) > 40
    assert {where for where, _ in help_examples()} >= {"nasdip search --help", "nasdip restore --help"}
    shown = {arguments[0] for _, arguments in COMMANDS if arguments}
    assert {"restore", "search", "bench", "compare", "analyze", "archs", "translate", "plugins"} <= shown


@pytest.fixture
def example_plugin(register_plugin, monkeypatch):
    """The example package's plugin, registered as if installed (the plugin walk-through's commands use it)."""
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "nasdip-example"))
    import nasdip_example

    register_plugin(nasdip_example, "example")


@pytest.mark.parametrize(("where", "arguments"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_a_documented_command_line_parses(where, arguments, request):
    if where.startswith("docs/plugins/writing.md"):
        request.getfixturevalue("example_plugin")
    try:
        parse(arguments)
    except click.exceptions.Exit:  # --help, --version
        pass
    except click.UsageError as error:
        pytest.fail(f"{where}: nasdip {shlex.join(arguments)}: {error.format_message()}")
