"""Automatic stopping: end a DIP fit near its best restoration without the ground truth.

A Deep Image Prior fit first restores the image, then fits the degradation (noise, missing detail). Two
detectors with a published basis decide when, from what the fit itself sees:

* ``wmv``: the windowed moving variance of the output (ES-WMV, Wang et al., "Early Stopping for Deep Image
  Prior", TMLR 2023). The variance of the last ``window`` outputs falls while the fit converges to the image and
  rises again once it starts following the noise; the detector keeps the output at the lowest variance and stops
  when ``patience`` steps pass without a new minimum.
* ``holdout``: self-validation (Li et al., "Self-Validation: Early Stopping for Single-Instance Deep Generative
  Priors", BMVC 2021). A random fraction of the observed pixels is left out of the loss; their error, averaged
  over ``window`` steps, falls while the fit restores and rises once it fits what the kept pixels do not share
  (their noise). The detector keeps the output at the lowest held-out error and stops after ``patience`` steps
  without a new minimum.

Both run on the device (no host synchronisation per step); the engine asks :meth:`StopRule.should_stop` at its
synchronisation points. The restoration returned is the output kept at the detected step, never a later one;
a fit that reaches its step cap without the detector firing returns the capped result and says so
(``stop_reason = "cap"``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from nasdip.errors import NasdipError

#: ``--stop`` choices: a fixed number of steps, or a detector (``auto`` is the recommended one).
STOP_RULES = ("iters", "auto", "wmv", "holdout")
#: The detector ``auto`` means.
AUTO_RULE = "holdout"
#: The held-out fraction used when a detector or reward needs one and none is given.
DEFAULT_HOLDOUT = 0.1
#: Output values the variance detector follows (a fixed random subset bounds its memory on large images).
WMV_SAMPLES = 65536


@dataclass(frozen=True)
class StopConfig:
    """A detector's parameters (validated by :func:`check_stop_settings`)."""

    rule: str
    window: int
    patience: int
    min_steps: int


def check_stop_settings(rule: str, window: int, patience: int, holdout: float, iters: int) -> None:
    """One-line errors for nonsense stopping settings, before any fitting."""
    if rule not in STOP_RULES:
        raise NasdipError(f"stop rule must be one of {', '.join(STOP_RULES)}, got {rule!r}")
    if not 0.0 <= holdout < 0.5:
        raise NasdipError(f"the held-out fraction must be in [0, 0.5), got {holdout}")
    if rule == "iters":
        return
    if window < 1 or patience < 1:
        raise NasdipError(f"the stopping window and patience must be at least 1, got {window} and {patience}")
    if window >= iters:
        raise NasdipError(f"the stopping window ({window} steps) must be shorter than the step cap (--iters {iters})")
    if resolve_rule(rule) == "holdout" and holdout <= 0:
        raise NasdipError("the holdout stopping rule needs a held-out fraction above 0 (--holdout)")


def resolve_rule(rule: str) -> str:
    """``auto`` -> the recommended detector; other names unchanged."""
    return AUTO_RULE if rule == "auto" else rule


class StopRule(ABC):
    """Base detector: follows a per-step criterion on the device, keeps the output at its minimum."""

    reason = "detected"

    def __init__(self, config: StopConfig) -> None:
        self.config = config
        self.best_value: torch.Tensor | None = None
        self.best_step: torch.Tensor | None = None
        self.best_output: torch.Tensor | None = None

    @abstractmethod
    def criterion(self, step: int, output: torch.Tensor, heldout: torch.Tensor | None) -> torch.Tensor | None:
        """The value to minimise at ``step`` (a 0-d device tensor), or ``None`` while it is not yet defined."""

    @torch.no_grad()
    def observe(self, step: int, output: torch.Tensor, heldout: torch.Tensor | None) -> None:
        """Fold in step ``step`` (1-based): its output and held-out error; device operations only."""
        value = self.criterion(step, output, heldout)
        if value is None or step < self.config.min_steps:
            return
        if self.best_value is None:
            self.best_value, self.best_output = value.clone(), output.clone()
            self.best_step = torch.tensor(step, device=output.device)
            return
        better = value < self.best_value
        self.best_value = torch.where(better, value, self.best_value)
        self.best_step = torch.where(better, torch.tensor(step, device=output.device), self.best_step)
        self.best_output = torch.where(better, output, self.best_output)

    def should_stop(self, step: int) -> bool:
        """At a synchronisation point: ``patience`` steps since the last minimum (reads one number)."""
        return self.best_step is not None and step - int(self.best_step) >= self.config.patience

    def selection(self) -> tuple[int, torch.Tensor] | None:
        """The detected step and its output, or ``None`` when nothing was kept."""
        if self.best_step is None:
            return None
        return int(self.best_step), self.best_output


class MovingVarianceStop(StopRule):
    """ES-WMV: the mean per-value variance of the last ``window`` outputs (on a fixed subset of values)."""

    def __init__(self, config: StopConfig, numel: int, generator: torch.Generator, device: torch.device) -> None:
        super().__init__(config)
        count = min(numel, WMV_SAMPLES)
        self.index = (torch.randperm(numel, generator=generator)[:count].to(device) if count < numel
                      else torch.arange(numel, device=device))
        self.buffer = torch.zeros(config.window, count, device=device)
        self.total = torch.zeros(count, device=device)
        self.squares = torch.zeros(count, device=device)

    def criterion(self, step, output, heldout):
        window = self.config.window
        slot = (step - 1) % window
        new = output.reshape(-1).index_select(0, self.index).float()
        old = self.buffer[slot]
        self.total.add_(new - old)
        self.squares.add_(new.square() - old.square())
        old.copy_(new)
        if slot == window - 1:  # re-sum exactly once per window: no drift from the running updates
            self.total.copy_(self.buffer.sum(dim=0))
            self.squares.copy_(self.buffer.square().sum(dim=0))
        if step < window:
            return None
        mean = self.total / window
        return (self.squares / window - mean.square()).clamp_min(0).mean()


class HoldoutStop(StopRule):
    """Self-validation: the held-out error averaged over the last ``window`` steps."""

    def __init__(self, config: StopConfig, device: torch.device) -> None:
        super().__init__(config)
        self.errors = torch.zeros(config.window, device=device)

    def criterion(self, step, output, heldout):
        self.errors[(step - 1) % self.config.window] = heldout
        if step < self.config.window:
            return None
        return self.errors.mean()


def make_stop_rule(config: StopConfig, output_numel: int, generator: torch.Generator,
                   device: torch.device) -> StopRule | None:
    """The detector for ``config.rule`` (``None`` for ``iters``)."""
    rule = resolve_rule(config.rule)
    if rule == "iters":
        return None
    if rule == "wmv":
        return MovingVarianceStop(config, output_numel, generator, device)
    return HoldoutStop(config, device)


def heldout_psnr(mse: float) -> float:
    """The held-out error as a PSNR in dB (peak 1): higher is better, like the task's own score."""
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf
