"""The ``nasdip`` command line: a click group whose commands live in one module each and load lazily.

Built-in commands are listed in :data:`BUILTIN_COMMANDS` (name -> ``module:attribute``, a command or a function
building one, and the one-line summary ``nasdip --help`` shows without importing the command); plugins add
theirs through the ``register_commands`` hook. User mistakes (:class:`nasdip.errors.NasdipError`, click's usage errors)
become one-line errors: exit code 2 for usage errors, 1 for the rest. A file-system error that names a path
(:class:`OSError` with a file name: permission denied, read-only or full disk, a file where a folder belongs) is
about the user's files or machine, not a bug, and also becomes one ``Error:`` line; other exceptions keep their
traceback.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import warnings

import click

from nasdip import __version__
from nasdip.errors import NasdipError, UsageError, is_user_file_error, os_error_message
from nasdip.plugin_manager import get_plugin_manager, warn_once

BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("nasdip.cli.analyze:analyze_command", "Which decisions of a search made a better prior."),
    "archs": ("nasdip.cli.archs:archs_command", "List, show and decode named architectures."),
    "bench": ("nasdip.cli.bench:bench_command", "Benchmark architectures on clean images degraded by a task."),
    "compare": ("nasdip.cli.compare:compare_command", "Compare search runs: a table and best-so-far curves."),
    "plugins": ("nasdip.cli.plugins:plugins_command", "List installed plugins and what they register."),
    "restore": ("nasdip.cli.restore:restore_command", "Restore an image with a Deep Image Prior network."),
    "search": ("nasdip.cli.search:search_command", "Search an architecture for a task."),
}


def plugin_commands_by_plugin() -> dict[str, dict[str, click.Command]]:
    """Commands each plugin adds through ``register_commands``, collected on scratch groups."""
    found: dict[str, dict[str, click.Command]] = {}
    for impl in get_plugin_manager().hook.register_commands.get_hookimpls():
        scratch = click.Group()
        try:
            impl.function(cli=scratch)
        except Exception as error:  # a broken plugin must not break nasdip
            warn_once(impl.plugin, f"plugin {impl.plugin_name!r} failed in register_commands and its commands are "
                                   f"skipped: {type(error).__name__}: {error}")
            continue
        found[impl.plugin_name] = dict(scratch.commands)
    return found


class NasdipGroup(click.Group):
    """A click group with lazily imported built-in commands, plugin commands and one-line user errors."""

    _plugin_commands_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        for plugin, commands in plugin_commands_by_plugin().items():
            for name, command in commands.items():
                if name in BUILTIN_COMMANDS or name in self.commands:
                    warnings.warn(
                        f"nasdip: plugin {plugin!r} adds a command {name!r} that already exists; ignored",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
                self.add_command(command, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS:
            module_name, attribute = BUILTIN_COMMANDS[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            command = command if isinstance(command, click.Command) else command()
            command.short_help = BUILTIN_COMMANDS[cmd_name][1]  # one summary wherever commands are listed
            return command
        self._load_plugin_commands()
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """As click's, and a mistyped command name gets the closest one (``nasdip serach``: did you mean
        'search'?)."""
        name = click.utils.make_str(args[0]) if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list: built-ins by their summaries (nothing is imported or built), then plugin commands by
        their first sentence, whole (wrapped, never cut)."""
        self._load_plugin_commands()
        rows = [(name, BUILTIN_COMMANDS[name][1]) if name in BUILTIN_COMMANDS else
                (name, self.commands[name].get_short_help_str(limit=1000))
                for name in self.list_commands(ctx) if name in BUILTIN_COMMANDS or not self.commands[name].hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # one line: the message and where to look for help
            path = error.ctx.command_path if error.ctx else ctx.command_path
            raise click.UsageError(f"{error.format_message()} (see '{path} --help')") from None
        except UsageError as error:
            command = ctx.invoked_subcommand or ""
            raise click.UsageError(f"{error} (see '{ctx.command_path} {command} --help')".replace("  ", " ")) from None
        except NasdipError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            if not is_user_file_error(error):  # not about a path: a bug or a system fault, keep the traceback
                raise
            raise click.ClickException(os_error_message(error)) from None


@click.group(name="nasdip", cls=NasdipGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nasdip")
def cli() -> None:
    """Neural architecture search for Deep Image Prior.

    Search an architecture, restore images with it, and compare strategies.
    """


def format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                   line: str | None = None) -> str:
    """nasdip's own warnings (``nasdip: ...``, e.g. a skipped plugin) as one line; others as Python shows them."""
    text = str(message)
    if text.startswith("nasdip: "):
        return f"{text}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def main() -> None:
    """Console-script entry point."""
    warnings.formatwarning = format_warning
    sys.exit(cli.main(prog_name="nasdip"))
