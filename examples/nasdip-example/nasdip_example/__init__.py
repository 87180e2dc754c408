"""Example nasdip plugin: a ``hill-climb`` searcher, a ``deblur`` task and a ``nasdip sample`` command.

The hooks import their implementations only when nasdip asks for them, so installing the plugin does not slow
down nasdip's start-up (``nasdip --help`` imports no torch).
"""

from __future__ import annotations

import json
import random

import click

import nasdip


@nasdip.hookimpl
def register_searchers(register) -> None:
    from nasdip_example.searcher import HillClimbSearcher

    register(HillClimbSearcher)


@nasdip.hookimpl
def register_tasks(register) -> None:
    from nasdip_example.task import Deblurring

    register(Deblurring)


@nasdip.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="sample")
    @click.option("--space", default="nasdip", show_default=True, help="Search space to sample.")
    @click.option("-n", "count", type=click.IntRange(1, 10_000), default=1, show_default=True,
                  help="How many architectures.")
    @click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Random seed.")
    def sample(space: str, count: int, seed: int) -> None:
        """Print random architectures of a search space as JSON documents (example plugin)."""
        chosen = nasdip.registry.get("spaces", space)
        rng = random.Random(seed)
        for _ in range(count):
            click.echo(json.dumps(chosen.sample(rng).to_dict()))
