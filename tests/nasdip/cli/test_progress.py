"""The fitting progress bar: one bar over several fits (each counted after the previous ones), its postfix."""

from __future__ import annotations

import io
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
    assert progress.bar.postfix == "loss=1.23e-02, psnr=21.46, ssim=0.50, fit=photo/nasdip-sr"
    progress.callback(10, {"loss": 2.0})
    assert progress.bar.postfix == "loss=2.00e+00, fit=photo/nasdip-sr"
    progress.close()


def test_without_a_label_the_postfix_names_no_fit(terminal):
    progress = FitProgress(10, "restore")
    progress.callback(5, {"loss": 0.5, "psnr": 20.0})
    assert progress.bar.postfix == "loss=5.00e-01, psnr=20.00"
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
