"""Options shared by every command that fits networks: steps, learning rate, seed, device, precision, width."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from nasdip.cli.params import LEARNING_RATE, SEED
from nasdip.fit import PRECISIONS, FitSettings


def fit_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--iters --lr --seed --device --precision --width`` (``None`` = the task's default)."""
    options = [
        click.option("--iters", type=click.IntRange(1), default=None, help="Fitting steps (default: the task's)."),
        click.option("--lr", type=LEARNING_RATE, default=None,
                     help="Adam learning rate (default: the task's)."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="Seeds the degradation, network initialisation and noise."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."),
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                     help="bf16: autocast and channels-last; auto: bf16 where the device computes it natively."),
        click.option("--width", type=click.IntRange(4), default=128, show_default=True,
                     help="Channels at every level of the network (128 in the paper)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings_from(base: FitSettings, iters: int | None, lr: float | None, seed: int, device: str,
                  precision: str) -> FitSettings:
    """The task's settings with the command-line overrides applied."""
    return base.replace(iters=iters, lr=lr, seed=seed, device=device, precision=precision)
