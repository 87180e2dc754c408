"""The top-level CLI: version, help, one-line errors, plugin commands."""

from __future__ import annotations

import errno
import subprocess
import sys

import click
import pytest

from nasdip import __version__, hookimpl
from nasdip.cli import BUILTIN_COMMANDS, cli

HEAVY = ("torch", "kornia", "matplotlib", "tensorboard", "ray")


def test_version(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"nasdip, version {__version__}"


def test_help_lists_builtin_commands(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "plugins" in result.output and "archs" in result.output


def test_help_imports_no_heavy_library():
    """``nasdip --help`` (plugins loaded, their commands listed) starts without torch, kornia, matplotlib,
    tensorboard or ray: checked in a fresh interpreter."""
    script = ("import sys\nfrom nasdip.cli import main\nsys.argv = ['nasdip', '--help']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              f"print('loaded:', sorted(name for name in {HEAVY!r} if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "translate" in result.stdout  # a plugin's command is listed
    assert result.stdout.rstrip().endswith("loaded: []"), result.stdout


def test_builtin_commands_are_listed_by_their_summaries(runner):
    result = runner.invoke(cli, ["--help"])
    for name, (_, summary) in BUILTIN_COMMANDS.items():
        assert f"  {name} " in result.output and summary in result.output
        assert cli.get_command(click.Context(cli), name).get_short_help_str(200) == summary


def test_plugin_commands_are_listed_by_their_whole_first_sentence(runner):
    listing = " ".join(runner.invoke(cli, ["--help"]).output.split())
    sentence = cli.get_command(click.Context(cli), "translate").help.split(".")[0]
    assert f"translate {sentence}." in listing and "two..." not in listing


def test_unknown_command_is_a_usage_error(runner):
    result = runner.invoke(cli, ["xyzzy"])
    assert result.exit_code == 2
    assert result.output == "Error: No such command 'xyzzy'. (see 'nasdip --help')\n"


@pytest.mark.parametrize(("typed", "meant"), [("serch", "search"), ("serach", "search"), ("restor", "restore"),
                                              ("arch", "archs")])
def test_a_mistyped_command_gets_the_closest_one(runner, typed, meant):
    result = runner.invoke(cli, [typed])
    assert result.exit_code == 2
    assert result.output == f"Error: No such command {typed!r}. Did you mean {meant!r}? (see 'nasdip --help')\n"


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


def group_with_command(register_plugin, error: BaseException) -> click.Group:
    """A fresh ``nasdip`` group with a plugin command ``fail`` that raises ``error``."""

    class Failing:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="fail")
            def fail():
                raise error

    register_plugin(Failing(), "failing")
    return type(cli)(name="nasdip", commands={})


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/data/out.png"),
         "Error: /data/out.png: Permission denied (check its permissions or choose another location)"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/cd/out"),
         "Error: /mnt/cd/out: Read-only file system (the file system is read-only; choose another location)"),
        (OSError(errno.ENOSPC, "No space left on device", "/data/run/state.pt"),
         "Error: /data/run/state.pt: No space left on device (the disk is full; free some space or choose another "
         "location)"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "photo.png/out"),
         "Error: photo.png/out: Not a directory (a part of the path is a file, not a folder)"),
    ],
)
def test_file_system_errors_on_user_paths_are_one_line(runner, register_plugin, error, line):
    result = runner.invoke(group_with_command(register_plugin, error), ["fail"])
    assert result.exit_code == 1
    assert result.output == line + "\n"


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EACCES, "Permission denied"), OSError(errno.EBADF, "Bad file descriptor", "/x"),
     KeyError("a bug"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")],
)
def test_other_errors_keep_their_traceback(runner, register_plugin, error):
    result = runner.invoke(group_with_command(register_plugin, error), ["fail"])
    assert result.exception is error  # not turned into a one-line user error: a bug must stay visible


def test_restore_into_a_path_below_a_file_is_one_line(runner, tmp_path):
    (tmp_path / "photo.png").write_bytes(b"not a folder")
    out = tmp_path / "photo.png" / "out"
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "16", "--iters", "2", "--width", "4",
                                 "--quiet", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert f"{tmp_path}/photo.png" in result.output and "is a file" in result.output


def test_nasdip_warnings_are_one_line_others_unchanged():
    import warnings

    from nasdip.cli import format_warning

    ours = format_warning(RuntimeWarning("nasdip: plugin 'x' is skipped: boom"), RuntimeWarning, "/a/b.py", 3, "code")
    assert ours == "nasdip: plugin 'x' is skipped: boom\n"
    theirs = format_warning(UserWarning("careful"), UserWarning, "/a/b.py", 3, "code")
    assert theirs == warnings.formatwarning(UserWarning("careful"), UserWarning, "/a/b.py", 3, "code")
    assert theirs.startswith("/a/b.py:3: UserWarning: careful")
