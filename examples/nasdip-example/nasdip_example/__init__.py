"""Example nasdip plugin: a ``hill-climb`` searcher and a ``nasdip sample`` command."""

from __future__ import annotations

import json
import random
from typing import Any

import click

import nasdip
from nasdip import Arch, Searcher


class HillClimbSearcher(Searcher):
    """First-improvement hill climbing: mutate the best architecture found so far."""

    name = "hill-climb"
    help = "local search: mutate the best architecture so far (example plugin)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.best: tuple[float, Arch] | None = None

    def ask(self) -> Arch:
        if self.best is None:
            return self.space.sample(self.rng)
        return self.space.mutate(self.best[1], self.rng)

    def tell(self, arch: Arch, reward: float | None) -> None:
        if reward is not None and (self.best is None or reward > self.best[0]):
            self.best = (reward, arch)

    def state_dict(self) -> dict[str, Any]:
        best = None if self.best is None else [self.best[0], self.best[1].to_dict()]
        return {**super().state_dict(), "best": best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.best = None if state["best"] is None else (state["best"][0], Arch.from_dict(state["best"][1]))


@nasdip.hookimpl
def register_searchers(register) -> None:
    register(HillClimbSearcher)


@nasdip.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="sample")
    @click.option("--space", default="nasdip", show_default=True, help="Search space to sample.")
    @click.option("-n", "count", default=1, show_default=True, help="How many architectures.")
    @click.option("--seed", default=0, show_default=True, help="Random seed.")
    def sample(space: str, count: int, seed: int) -> None:
        """Print random architectures of a search space as JSON documents (example plugin)."""
        chosen = nasdip.registry.get("spaces", space)
        rng = random.Random(seed)
        for _ in range(count):
            click.echo(json.dumps(chosen.sample(rng).to_dict()))
