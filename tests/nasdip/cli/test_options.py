"""Shared click parameter types: finite numbers, seeds."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from nasdip.options import LEARNING_RATE, MAX_SEED, SEED, FiniteFloat


@click.command()
@click.option("--lr", type=LEARNING_RATE)
@click.option("--weight", type=FiniteFloat())
@click.option("--seed", type=SEED)
def probe(lr, weight, seed):
    click.echo(repr((lr, weight, seed)))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--lr", "0.01", "--weight", "-2.5", "--seed", str(MAX_SEED)], f"(0.01, -2.5, {MAX_SEED})"),
        (["--lr", "1e-300", "--seed", "0"], "(1e-300, None, 0)"),
    ],
)
def test_finite_values_pass(args, expected):
    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "nan"], "Invalid value for '--lr': 'nan' is not a finite number."),
        (["--lr", "inf"], "Invalid value for '--lr': 'inf' is not a finite number."),
        (["--lr", "0"], "Invalid value for '--lr': 0.0 is not in the range 0<x<=10.0."),
        (["--lr", "1e300"], "Invalid value for '--lr': 1e+300 is not in the range 0<x<=10.0."),
        (["--lr", "10.5"], "Invalid value for '--lr': 10.5 is not in the range 0<x<=10.0."),
        (["--lr", "fast"], "Invalid value for '--lr': 'fast' is not a valid float."),
        (["--weight", "-Infinity"], "Invalid value for '--weight': '-Infinity' is not a finite number."),
        (["--weight", "NaN"], "Invalid value for '--weight': 'NaN' is not a finite number."),
        (["--seed", str(MAX_SEED + 1)], f"Invalid value for '--seed': {MAX_SEED + 1} is not in the range 0<=x<="),
        (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<="),
    ],
)
def test_non_finite_numbers_and_out_of_range_seeds_are_refused(args, message):
    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 2
    assert message in result.output


def test_max_seed_seeds_every_generator():
    import random

    import torch

    torch.Generator().manual_seed(MAX_SEED + 1000 * 99)  # benchmarks and searches offset the seed per image
    random.Random(MAX_SEED)


def test_help_describes_only_real_bounds():
    help_text = " ".join(CliRunner().invoke(probe, ["--help"]).output.split())
    assert "--lr NUMBER [0<x<=10.0]" in help_text
    assert "None" not in help_text


def test_plugin_options_show_their_range_in_the_help(runner):
    from nasdip.cli import cli

    help_text = " ".join(runner.invoke(cli, ["restore", "--help"]).output.split())
    assert "--sigma NUMBER denoise: Noise standard deviation on the 0-255 scale. [0<x<=255] (default 25.0)" in help_text
    assert "--drop NUMBER inpaint: Fraction of pixels dropped when no --mask is given. [0<=x<1]" in help_text
    assert "--width MULTIPLE OF 4" in help_text and "--iters STEPS" in help_text


def test_a_plugin_option_is_checked_against_the_chosen_plugins_range(register_plugin, runner):
    # Two tasks declare --level with different ranges: the command line takes any number, the chosen task decides.
    from nasdip import hookimpl
    from nasdip.cli import cli
    from nasdip.fit.problem import Problem
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.options import Option

    def make(name, high):
        class Level(Task):
            options = (Option("level", float, 0.5, "A level.", min=0, max=high),)

            def settings(self):
                return FitSettings()

            def degrade(self, clean, generator, name="image"):
                return Problem(clean, tuple(clean.shape[-2:]), clean=clean, name=name)

            def observe(self, observation, info=None, name="image"):
                return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)

        Level.name = name
        return Level

    class Plugin:
        @hookimpl
        def register_tasks(self, register):
            register(make("low", 1))
            register(make("high", 5))

    register_plugin(Plugin(), "levels")
    refused = runner.invoke(cli, ["restore", "--task", "low", "--level", "2", "--crop", "8"])
    assert refused.exit_code == 2 and "--level must be in the range 0<=x<=1, got 2.0" in refused.output
    passed = runner.invoke(cli, ["restore", "--task", "high", "--level", "2", "--crop", "8"])
    assert passed.exit_code == 2 and "--crop 8 is too small for task high (level=2.0)" in passed.output


def test_help_lists_options_by_section_and_ends_with_unwrapped_examples():
    from nasdip.cli.options import build_command, section

    example = "nasdip probe --alpha 1 --beta 2 --gamma 3 --and-a-long-option-that-would-wrap value --another one"
    command = build_command("probe", lambda **kwargs: None, [
        section("First", click.option("--alpha", help="a"), section("Inner", click.option("--beta", help="b"))),
        click.option("--gamma", help="g"),
        section("First", click.option("--delta", help="d")),
    ], examples=[example])
    lines = CliRunner().invoke(command, ["--help"]).output.splitlines()
    titles = [line for line in lines if line and not line.startswith(" ") and line.endswith(":")]
    assert titles == ["First:", "Inner:", "Other options:", "Examples:"]
    first = lines.index("First:")
    assert [line.split()[0] for line in lines[first + 1:first + 3]] == ["--alpha", "--delta"]
    assert lines[lines.index("Other options:") + 1].split()[0] == "--gamma"
    assert "  " + example in lines


def test_search_help_groups_its_options_and_says_what_values_are(runner):
    from nasdip.cli import cli

    output = runner.invoke(cli, ["search", "--help"]).output
    titles = [line for line in output.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert [title.split(" ")[0].rstrip(":") for title in titles] == [
        "Search", "Task", "Fidelity", "Schedule", "Execution", "Output", "Other", "Examples"]
    row = lambda flag: output.index(f"\n  {flag} ")  # noqa: E731
    assert row("--searcher") < row("--sigma") < row("--iters") < row("--device") < row("--run-dir")
    flat = " ".join(output.split())
    assert "--mask MASK.png" in flat and "--airlight [dcp|refine]" in flat and "--ray-address HOST:PORT" in flat


def test_settings_from_maps_the_acceleration_switches():
    """Neither --compile nor --no-compile is auto; --cuda-graphs on/off/auto are True/False/auto."""
    from nasdip.cli.options import settings_from
    from nasdip.fit.settings import FitSettings

    base = FitSettings()
    default = settings_from(base, None, None, 0, "cpu", "auto")
    assert default.compile == "auto" and default.cuda_graphs == "auto"
    forced = settings_from(base, None, None, 0, "cpu", "auto", True, "on")
    assert forced.compile is True and forced.cuda_graphs is True
    never = settings_from(base, None, None, 0, "cpu", "auto", False, "off")
    assert never.compile is False and never.cuda_graphs is False
