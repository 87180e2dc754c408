"""The top-level CLI: version, help, one-line errors, plugin commands."""

from __future__ import annotations

import click
import pytest

from nasdip import __version__, hookimpl
from nasdip.cli import cli


def test_version(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"nasdip, version {__version__}"


def test_help_lists_builtin_commands(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "plugins" in result.output and "archs" in result.output


def test_unknown_command_is_a_usage_error(runner):
    result = runner.invoke(cli, ["serch"])
    assert result.exit_code == 2
    assert "No such command 'serch'" in result.output


def test_hook_register_commands(runner, register_plugin):
    class Greeter:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="greet")
            @click.argument("who")
            def greet(who):
                """Say hello."""
                click.echo(f"hello {who}")

    register_plugin(Greeter(), "greeter")
    group = type(cli)(name="nasdip", commands={})  # a fresh group, so plugin commands load anew
    result = runner.invoke(group, ["greet", "world"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello world\n"


def test_plugin_command_cannot_shadow_a_builtin(runner, register_plugin):
    class Shadow:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="plugins")
            def fake():
                click.echo("shadowed")

    register_plugin(Shadow(), "shadow")
    group = type(cli)(name="nasdip", commands={})
    with pytest.warns(RuntimeWarning, match="plugin 'shadow' adds a command 'plugins' that already exists"):
        result = runner.invoke(group, ["--help"])
    assert result.exit_code == 0
    assert runner.invoke(group, ["plugins"]).output.count("shadowed") == 0
