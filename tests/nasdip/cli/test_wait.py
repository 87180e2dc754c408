"""The expected wait: timed between the first two synchronisations, said once, only for long fits."""

from __future__ import annotations

import pytest

from nasdip.cli.wait import ANNOUNCE_SECONDS, ExpectedWait, format_wait


class Clock:
    def __init__(self, *times: float) -> None:
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def said(total: int, times: tuple[float, ...], steps: tuple[int, ...], capped: bool = False) -> list[str]:
    lines: list[str] = []
    wait = ExpectedWait(total, capped, echo=lines.append, clock=Clock(*times))
    for step in steps:
        wait.callback(step, {"loss": 1.0})
    return lines


def test_a_long_fit_is_announced_once_from_the_steps_after_the_first_synchronisation():
    # The first 25 steps took 60 s (a compilation); the next 25 took 8.75 s: 0.35 s a step, 1950 steps to go.
    lines = said(2000, (60.0, 68.75, 80.0, 90.0), (25, 50, 75, 100))
    assert lines == ["expected wait: about 11 min (2000 steps at 0.35 s)"]  # 1950 * 0.35 s = 682 s


def test_a_short_fit_is_not_announced():
    remaining = ANNOUNCE_SECONDS / 0.35 * 0.9  # under a minute left at 0.35 s a step
    assert said(int(remaining) + 50, (0.0, 8.75), (25, 50)) == []


def test_a_capped_fit_says_it_may_end_sooner():
    (line,) = said(3000, (0.0, 25.0), (25, 50), capped=True)
    assert line == "expected wait: about 49 min (3000 steps at 1.00 s; the automatic stop may end it sooner)"


def test_a_new_fit_restarting_its_steps_times_from_its_own_first_synchronisation():
    assert said(1000, (0.0, 5.0, 10.0), (25, 25, 50)) == ["expected wait: about 3 min (1000 steps at 0.20 s)"]


@pytest.mark.parametrize(("seconds", "text"), [(45, "about 45 s"), (720, "about 12 min"), (5400, "about 1.5 h")])
def test_format_wait(seconds, text):
    assert format_wait(seconds) == text
