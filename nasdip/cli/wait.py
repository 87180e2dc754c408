"""The expected wait of a long fit, said once on stderr as soon as its first steps are timed
(:class:`ExpectedWait`), so that nobody starts an hour-long CPU fit unawares."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import click

#: Waits shorter than this (seconds) are not announced.
ANNOUNCE_SECONDS = 60.0


def format_wait(seconds: float) -> str:
    """``about 45 s``, ``about 12 min``, ``about 1.5 h``."""
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


class ExpectedWait:
    """A fit callback: at its second synchronisation (so a first step's compilation or warm-up is not counted) it
    times the steps since the first and, when the ``total`` steps planned would take longer than
    :data:`ANNOUNCE_SECONDS`, says ``expected wait: about 12 min (2000 steps at 0.35 s)`` once. ``capped``: an
    automatic stop may end the fit sooner (the line says so)."""

    def __init__(self, total: int, capped: bool = False, echo: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.total, self.capped, self.clock = total, capped, clock
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self.first: tuple[int, float] | None = None
        self.said = False

    def callback(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.said:
            return
        now = self.clock()
        if self.first is None or step <= self.first[0]:
            self.first = (step, now)
            return
        self.said = True
        per_step = (now - self.first[1]) / (step - self.first[0])
        remaining = per_step * max(self.total - step, 0)
        if remaining > ANNOUNCE_SECONDS:
            sooner = "; the automatic stop may end it sooner" if self.capped else ""
            self.echo(f"expected wait: {format_wait(remaining)} ({self.total} steps at {per_step:.2f} s{sooner})")
