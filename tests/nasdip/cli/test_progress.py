"""The fitting progress bar: one bar over several fits (each counted after the previous ones), its postfix."""

from __future__ import annotations

import io
import threading
from types import SimpleNamespace

import pytest

from nasdip.cli import progress as progress_module
from nasdip.cli.progress import FitProgress


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so the bar draws."""

    def isatty(self) -> bool:
        return True


def use_stderr(monkeypatch, stream: io.StringIO) -> None:
    """The bar's stderr becomes ``stream`` (patched in the module: pytest's capture resets ``sys.stderr``)."""
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stream))


@pytest.fixture
def terminal(monkeypatch) -> Terminal:
    stream = Terminal()
    use_stderr(monkeypatch, stream)
    return stream


def test_one_fit_advances_the_bar_to_its_step(terminal):
    progress = FitProgress(10, "restore")
    progress.callback(5, {"loss": 0.5})
    assert (progress.bar.n, progress.bar.total, progress.offset) == (5, 10, 0)
    progress.callback(10, {"loss": 0.25})
    assert progress.bar.n == 10
    progress.close()


def test_each_fit_counts_after_the_previous_ones(terminal):
    progress = FitProgress(30, "bench denoise")
    seen = []
    for label in ("a/dip-skip", "b/dip-skip", "c/dip-skip"):
        progress.start(label)
        seen.append(progress.offset)
        for step in (4, 10):
            progress.callback(step, {"loss": 0.1})
            seen.append(progress.bar.n)
    assert seen == [0, 4, 10, 10, 14, 20, 20, 24, 30]
    progress.close()


def test_a_fit_that_stops_early_starts_the_next_where_it_ended(terminal):
    progress = FitProgress(20, "bench")
    progress.start("a")
    progress.callback(6, {"loss": 0.1})  # stopped at step 6 of 10
    progress.start("b")
    progress.callback(3, {"loss": 0.1})
    assert (progress.offset, progress.bar.n) == (6, 9)
    progress.close()


def test_a_repeated_step_does_not_advance_the_bar(terminal):
    progress = FitProgress(10, "bench")
    for _ in range(3):  # a pack's members report the same step
        progress.callback(4, {"loss": 0.1})
    assert progress.bar.n == 4
    progress.close()


def test_the_postfix_shows_loss_metrics_and_the_fit(terminal):
    progress = FitProgress(10, "bench")
    progress.start("photo/nasdip-sr")
    progress.callback(5, {"psnr": 21.456, "loss": 0.0123456, "ssim": 0.5})
    assert progress.bar.postfix == "loss=1.23e-02, psnr=21.46 dB, ssim=0.50, fit=photo/nasdip-sr"
    progress.callback(10, {"loss": 2.0})
    assert progress.bar.postfix == "loss=2.00e+00, fit=photo/nasdip-sr"
    progress.close()


def test_without_a_label_the_postfix_names_no_fit(terminal):
    progress = FitProgress(10, "restore")
    progress.callback(5, {"loss": 0.5, "psnr": 20.0})
    assert progress.bar.postfix == "loss=5.00e-01, psnr=20.00 dB"
    progress.close()


def test_the_bar_draws_its_description_steps_and_postfix(terminal):
    progress = FitProgress(20, "bench denoise")
    progress.start("a/dip-skip")
    progress.callback(10, {"loss": 0.5})
    progress.close()
    text = terminal.getvalue()
    assert "bench denoise" in text and "10/20" in text and "loss=5.00e-01, fit=a/dip-skip" in text
    assert "step" in text


def test_quiet_draws_nothing(terminal):
    progress = FitProgress(10, "restore", quiet=True)
    progress.start("a")
    progress.callback(5, {"loss": 0.5})
    progress.close()
    assert progress.bar.disable and terminal.getvalue() == ""


def test_no_terminal_draws_nothing(monkeypatch):
    stream = io.StringIO()
    use_stderr(monkeypatch, stream)
    progress = FitProgress(10, "restore")
    progress.start("a")
    progress.callback(5, {"loss": 0.5})
    progress.close()
    assert progress.bar.disable and stream.getvalue() == ""


# -- a search's progress ------------------------------------------------------------------------------------


def search_driver(evaluated: int = 0, planned: int | None = 4):
    """What :class:`SearchProgress` reads from a search driver."""
    from nasdip.search.jobs import Fidelity

    settings = SimpleNamespace(searcher="rl", space="nasdip", reward="psnr", budget=4, executor="serial")
    return SimpleNamespace(settings=settings, reward=SimpleNamespace(unit="dB"), evaluated=evaluated,
                           schedule=SimpleNamespace(planned_evaluations=lambda: planned),
                           ladder=[Fidelity(300, 32, 16), Fidelity(1500, 96, 32)],
                           task=SimpleNamespace(describe=lambda: "sr (scale=4)"),
                           run_dir=SimpleNamespace(path="runs/rl-sr"))


def trial(index, status="ok", reward=21.5, best=21.5, rung=0, **fields):
    from nasdip.search.records import Trial

    values = {"index": index, "round": 0, "arch": {}, "digest": "d", "status": status, "reward": reward,
              "best_reward": best, "seconds": 12.34, "elapsed": 20.0, "rung": rung,
              "fidelity": {"iters": 300, "crop": 32, "width": 16}, **fields}
    return Trial(**values)


def test_without_a_terminal_a_search_logs_one_line_per_trial():
    from nasdip.cli.progress import SearchProgress

    stream = io.StringIO()
    progress = SearchProgress(quiet=False, stream=stream)
    progress.start(search_driver(evaluated=1))
    progress.on_trial(trial(1))
    progress.on_trial(trial(2, "failed", reward=None, error="ValueError: no"))
    progress.on_trial(trial(3, "duplicate", reward=21.5, duplicate_of=1))
    progress.finish(SimpleNamespace(reason="budget reached", trials=4, evaluated=3, failed=1, seconds=61.2,
                                    best_reward=21.5, best_trial=1))
    progress.close()
    assert stream.getvalue().splitlines() == [
        "nasdip: search rl on nasdip for sr (scale=4): reward psnr, 4 evaluations at 300 steps, 32 px, width 16 -> "
        "1500 steps, 96 px, width 32, executor serial, run directory runs/rl-sr; resuming after 1 evaluations",
        "nasdip: trial 1 (rung 0, 300 steps, 32 px, width 16) ok: reward 21.500 dB in 12.3 s; best 21.500 dB",
        "nasdip: trial 2 (rung 0, 300 steps, 32 px, width 16) failed after 12.3 s: ValueError: no; best 21.500 dB",
        "nasdip: trial 3 (rung 0, 300 steps, 32 px, width 16) duplicate of trial 1: reward 21.500 dB; best 21.500 dB",
        "nasdip: search finished (budget reached): 4 trials, 3 evaluated, 1 failed, in 61 s; best reward 21.500 dB "
        "at trial 1",
    ]


def test_on_a_terminal_the_search_bar_counts_trials_and_parts_of_trials():
    from nasdip.cli.progress import SearchProgress

    stream = Terminal()
    progress = SearchProgress(quiet=False, stream=stream)
    progress.start(search_driver(evaluated=1))
    assert (progress.bar.n, progress.bar.total) == (1, 4)
    progress.on_step(2, 0.5)
    assert progress.bar.n == 1.5
    progress.on_trial(trial(2, best=22.0, rung=1))
    assert progress.bar.n == 2 and progress.bar.postfix == "best=22.000 dB, last=21.500 dB, rung=1"
    progress.close()
    assert "2.0/4 trials" in stream.getvalue() and "nasdip: trial" not in stream.getvalue()


def test_a_planned_count_given_at_the_start_is_the_bars_total():
    from nasdip.cli.progress import SearchProgress

    progress = SearchProgress(quiet=False, stream=Terminal())
    progress.start(search_driver(planned=31), planned=30)  # restore --arch auto: the top rung is not played
    assert progress.bar.total == 30
    progress.close()


def test_quiet_shows_nothing():
    from nasdip.cli.progress import SearchProgress

    stream = Terminal()
    progress = SearchProgress(quiet=True, stream=stream)
    progress.start(search_driver())
    progress.on_trial(trial(0))
    progress.close()
    assert stream.getvalue() == "" and progress.bar is None


def test_the_postfix_carries_units(terminal):
    progress = FitProgress(10, "restore")
    progress.callback(5, {"loss": 0.5, "psnr": 27.314, "holdout_psnr": 30.0, "ssim": 0.8})
    progress.close()
    last = terminal.getvalue().split("\r")[-1]
    assert "psnr=27.31 dB" in last and "holdout_psnr=30.00 dB" in last and "ssim=0.80," not in last
    assert "ssim=0.80" in last and "loss=5.00e-01" in last


def test_the_clock_moves_between_reports(terminal):
    """A fit reports every 25 steps (minutes on a CPU at full size): the bar is redrawn every second anyway."""
    progress = FitProgress(10, "restore")
    redrawn = threading.Event()
    drawn = progress.bar.refresh
    progress.bar.refresh = lambda *args, **kwargs: (redrawn.set(), drawn(*args, **kwargs))
    assert redrawn.wait(timeout=30), "never redrawn without a report"
    progress.close()
    assert progress.ticker.stopped.is_set()


def test_a_quiet_bar_has_no_clock(terminal):
    progress = FitProgress(10, "restore", quiet=True)
    assert progress.ticker is None
    progress.close()
