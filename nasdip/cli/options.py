"""Reusable groups of click options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from nasdip.nn.config import NetConfig

_DEFAULTS = NetConfig()


def net_config_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--width --depth --input-depth --out-channels --skip``: fixed network settings (passed as keywords)."""
    options = [
        click.option("--width", type=click.IntRange(4), default=_DEFAULTS.width, show_default=True,
                     help="Channels at every level (multiple of 4)."),
        click.option("--depth", type=click.IntRange(1), default=_DEFAULTS.depth, show_default=True,
                     help="Encoder levels."),
        click.option("--input-depth", type=click.IntRange(1), default=_DEFAULTS.input_depth, show_default=True,
                     help="Channels of the noise input."),
        click.option("--out-channels", type=click.IntRange(1), default=_DEFAULTS.out_channels, show_default=True,
                     help="Image channels (3 RGB, 1 grey)."),
        click.option("--skip", type=click.IntRange(0), default=_DEFAULTS.skip, show_default=True,
                     help="Skip channels of DIP's skip network."),
    ]
    for option in reversed(options):
        function = option(function)
    return function
