"""Options shared by every command that fits networks: steps, learning rate, seed, device, precision, width."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nasdip.cli.params import LEARNING_RATE, SEED
from nasdip.device import PRECISIONS
from nasdip.fit import FitSettings
from nasdip.stopping import AUTO_RULE, STOP_RULES


def fit_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--iters --lr --seed --device --precision --compile --width`` (``None`` = the task's default)."""
    options = [
        click.option("--iters", type=click.IntRange(1), default=None, help="Fitting steps (default: the task's)."),
        click.option("--lr", type=LEARNING_RATE, default=None,
                     help="Adam learning rate (default: the task's)."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="Seeds the degradation, network initialisation and noise."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."),
        click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
                     help="bf16: autocast and channels-last; auto: bf16 where the device computes it natively."),
        click.option("--compile", "compile_net", is_flag=True,
                     help="Run the network through torch.compile: faster steps after a one-off compilation (about a "
                          "minute at 256x256); for long fits."),
        click.option("--width", type=click.IntRange(4), default=128, show_default=True,
                     help="Channels at every level of the network (128 in the paper)."),
    ]
    for option in reversed(options):
        function = option(function)
    return stop_options(function)


#: The keyword arguments :func:`stop_options` adds (``None`` = the task's setting).
STOP_KEYS = ("stop", "holdout", "stop_window", "stop_patience")


def stop_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--stop --holdout --stop-window --stop-patience``: automatic stopping without ground truth."""
    options = [
        click.option("--stop", type=click.Choice(STOP_RULES), default=None,
                     help=f"When to stop: after --iters steps (iters), or when a detector finds the best step "
                          f"without ground truth ({', '.join(STOP_RULES[1:])}; auto = {AUTO_RULE}), --iters "
                          f"being the cap."),
        click.option("--holdout", type=click.FloatRange(0, 0.5, max_open=True), default=None,
                     help="Fraction of the observed pixels left out of the loss to validate on (self-validation; "
                          "the holdout detector and reward need it)."),
        click.option("--stop-window", type=click.IntRange(1), default=None,
                     help="Steps the stopping detector averages over."),
        click.option("--stop-patience", type=click.IntRange(1), default=None,
                     help="Steps without improvement after which the detector stops."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def stop_values(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the :data:`STOP_KEYS` from a command's keyword arguments; the ones given."""
    values = {key: options.pop(key, None) for key in STOP_KEYS}
    return {key: value for key, value in values.items() if value is not None}


def settings_from(base: FitSettings, iters: int | None, lr: float | None, seed: int, device: str,
                  precision: str, compile_net: bool = False, **stopping: Any) -> FitSettings:
    """The task's settings with the command-line overrides applied (see :meth:`FitSettings.with_stopping`)."""
    return base.replace(iters=iters, lr=lr, seed=seed, device=device, precision=precision,
                        compile=compile_net).with_stopping(**stopping)


def check_output_dirs(**folders: Path | None) -> None:
    """Refuse unwritable output folders (``out=...`` checks ``--out``) before any fitting starts."""
    from nasdip.files import check_writable_dir

    for option, folder in folders.items():
        if folder is not None:
            check_writable_dir(folder, f"--{option.replace('_', '-')}")
