"""Progress on stderr: bars (tqdm) fed by the fitting engine's synchronisation callbacks and by a search's
trials, or one log line per trial when stderr is not a terminal."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import TextIO

from tqdm import tqdm

from nasdip import registry
from nasdip.search.records import DUPLICATE, OK


class Ticker:
    """Redraws a bar every second from a daemon thread, so its elapsed time moves between updates (a fit reports
    every ``sync_every`` steps, a search every trial)."""

    def __init__(self, bar: tqdm, lock: threading.Lock) -> None:
        self.bar, self.lock = bar, lock
        self.stopped = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                if not self.stopped.is_set():
                    self.bar.refresh()

    def stop(self) -> None:
        self.stopped.set()


#: Units of the numbers a fit reports, for the bar's postfix.
METRIC_UNITS = {"psnr": "dB", "holdout_psnr": "dB"}


class FitProgress:
    """A bar over fitting steps, possibly spanning several fits; ``callback`` plugs into ``fit(callbacks=...)``.
    Its clock moves every second, and its postfix carries units (``psnr=27.31 dB``)."""

    def __init__(self, total: int, description: str, quiet: bool = False) -> None:
        self.bar = tqdm(total=total, desc=description, unit="step", file=sys.stderr, disable=True if quiet else None,
                        dynamic_ncols=True)
        self.offset = 0
        self.label = ""
        self.lock = threading.Lock()
        self.ticker = None if self.bar.disable else Ticker(self.bar, self.lock)

    def start(self, label: str) -> None:
        """A new fit begins (its steps count after the previous fits')."""
        self.offset = self.bar.n
        self.label = label

    def callback(self, step: int, metrics: Mapping[str, float]) -> None:
        postfix = {"loss": f"{metrics['loss']:.2e}"}
        for key, value in metrics.items():
            if key != "loss":
                postfix[key] = f"{value:.2f} {METRIC_UNITS.get(key, '')}".strip()
        if self.label:
            postfix["fit"] = self.label
        with self.lock:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(self.offset + step - self.bar.n)

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        with self.lock:
            self.bar.close()


class SearchProgress:
    """What a search shows while it runs: on a terminal a bar over its planned evaluations whose elapsed time moves
    every second (and which advances within a trial where the executor reports fitting steps), with units in its
    postfix; elsewhere (a batch job, a log file) one line per trial and a line at the start, which a person can
    grep. ``quiet`` shows neither."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar: tqdm | None = None
        self.unit = ""
        self.done = 0.0
        self.partial: dict[int, float] = {}
        self.lock = threading.Lock()
        self.ticker: Ticker | None = None

    def start(self, driver, planned: int | None = None) -> None:
        """The search begins (or resumes) with ``driver``: its planned evaluations (``planned``, else its
        schedule's) and what is already done."""
        settings = driver.settings
        self.unit = driver.reward.unit
        self.done = float(driver.evaluated)
        if self.quiet:
            return
        if planned is None:
            planned = driver.schedule.planned_evaluations()
        if not self.terminal:
            ladder = " -> ".join(fidelity_text(rung) for rung in driver.ladder)
            self._line(f"search {settings.searcher} on {settings.space} for {driver.task.describe()}: reward "
                       f"{settings.reward}, {planned if planned is not None else 'up to ' + str(settings.budget)} "
                       f"evaluations at {ladder}, executor {settings.executor}, run directory {driver.run_dir.path}"
                       + (f"; resuming after {driver.evaluated} evaluations" if driver.evaluated else ""))
            return
        layout = ("{l_bar}{bar}| {n:.1f}/{total_fmt} trials [{elapsed}<{remaining}{postfix}]" if planned else
                  "{desc}: {n:.1f} trials [{elapsed}{postfix}]")
        self.bar = tqdm(total=planned, initial=self.done, desc=f"search {settings.searcher}", file=self.stream,
                        dynamic_ncols=True, bar_format=layout)
        self.ticker = Ticker(self.bar, self.lock)

    def _line(self, text: str) -> None:
        print(f"nasdip: {text}", file=self.stream, flush=True)

    def on_step(self, trial: int, fraction: float) -> None:
        """Part of a running trial is done (``fraction`` of its fitting steps): the bar moves within the trial."""
        with self.lock:
            self.partial[trial] = min(max(fraction, 0.0), 1.0)
            self._show()

    def _show(self) -> None:
        if self.bar is not None:
            self.bar.n = self.done + sum(self.partial.values())
            self.bar.refresh()

    def on_trial(self, trial) -> None:
        """A trial finished: count it, show the best and last reward with their unit (or log one line)."""
        with self.lock:
            self.partial.pop(trial.index, None)
            if trial.status != DUPLICATE:
                self.done += 1
            if self.quiet:
                return
            if self.bar is None:
                self._line(trial_line(trial, self.unit))
                return
            unit = f" {self.unit}" if self.unit else ""
            best = "-" if trial.best_reward is None else f"{trial.best_reward:.3f}{unit}"
            last = f"{trial.reward:.3f}{unit}" if trial.status == OK else trial.status
            self.bar.set_postfix({"best": best, "last": last, "rung": trial.rung}, refresh=False)
            self._show()

    def finish(self, summary) -> None:
        """The search ended: one closing log line (a terminal's bar ends by itself)."""
        if self.quiet or self.terminal:
            return
        unit = f" {self.unit}" if self.unit else ""
        best = ("no successful trial" if summary.best_reward is None else
                f"best reward {summary.best_reward:.3f}{unit} at trial {summary.best_trial}")
        self._line(f"search finished ({summary.reason}): {summary.trials} trials, {summary.evaluated} evaluated, "
                   f"{summary.failed} failed, in {summary.seconds:.0f} s; {best}")

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        with self.lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None


def fidelity_text(fidelity) -> str:
    """``300 steps, 32 px, width 16`` (``full`` images when not cropped; ``score psd (best 1/10 go on)`` for a
    score rung)."""
    crop = "full images" if fidelity.crop is None else f"{fidelity.crop} px"
    how = f"score {fidelity.score} (best 1/{fidelity.eta} go on)" if fidelity.score else f"{fidelity.iters} steps"
    return f"{how}, {crop}, width {fidelity.width}"


def trial_line(trial, unit: str) -> str:
    """One trial as a log line: index, rung and fidelity, status, reward with its unit (a score rung's trial: its
    score's), seconds, best so far (the search reward's)."""
    fidelity = trial.fidelity or {}
    score = fidelity.get("score")
    how = f"score {score}" if score else f"{fidelity.get('iters')} steps"
    where = f"rung {trial.rung}, {how}, {fidelity.get('crop') or 'full'} px, width {fidelity.get('width')}"
    suffix = f" {unit}" if unit else ""
    mine = suffix if not score else f" {registry.get('rewards', score).unit}".rstrip()
    what = score or "reward"
    best = "" if trial.best_reward is None else f"; best {trial.best_reward:.3f}{suffix}"
    if trial.status == OK:
        outcome = f"ok: {what} {trial.reward:.3f}{mine} in {trial.seconds:.1f} s"
    elif trial.status == DUPLICATE:
        outcome = f"duplicate of trial {trial.duplicate_of}: {what} {trial.reward:.3f}{mine}"
    else:
        outcome = f"{trial.status} after {trial.seconds:.1f} s: {trial.error}"
    return f"trial {trial.index} ({where}) {outcome}{best}"
