"""The divergence guard: keep a device-side copy of the fit's state and roll back to it when the loss explodes.

At every synchronisation the guard sees the losses since the previous one. If any is not finite, or the last rose
by more than ``guard_db`` decibels above the last good check, parameters, optimiser state and the output average
are restored from the last good check; otherwise the current state becomes the new good copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from nasdip.fit.average import OutputAverage


class Snapshot:
    """Device-side copy of parameters, optimiser state and output average (refreshed in place)."""

    def __init__(self, params: Sequence[torch.Tensor], optimizer: torch.optim.Optimizer,
                 average: OutputAverage, in_place: bool = False) -> None:
        self.params = list(params)
        #: Restore the optimiser's state into its own tensors (a CUDA graph reads them) rather than fresh copies.
        self.in_place = in_place
        self.optimizer = optimizer
        self.average = average
        self.saved_params = [p.detach().clone() for p in self.params]
        self.saved_state: list[dict[str, Any]] = [{} for _ in self.params]
        self.saved_average: torch.Tensor | None = None

    @torch.no_grad()
    def save(self) -> None:
        for saved, live in zip(self.saved_params, self.params, strict=True):
            saved.copy_(live)
        for kept, param in zip(self.saved_state, self.params, strict=True):
            for key, value in self.optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and key in kept:
                    kept[key].copy_(value)
                else:
                    kept[key] = value.detach().clone() if torch.is_tensor(value) else value
        self.saved_average = self.average.save(self.saved_average)

    @torch.no_grad()
    def restore(self) -> None:
        for saved, live in zip(self.saved_params, self.params, strict=True):
            live.copy_(saved)
        for kept, param in zip(self.saved_state, self.params, strict=True):
            if self.in_place:
                self._restore_in_place(kept, self.optimizer.state[param])
            else:
                self.optimizer.state[param] = {k: v.clone() if torch.is_tensor(v) else v for k, v in kept.items()}
        # An average saved before it existed restarts from the next output rather than keeping a diverged one.
        self.average.restore(self.saved_average)

    @staticmethod
    def _restore_in_place(kept: dict[str, Any], live: dict[str, Any]) -> None:
        """Copy the saved state into the live tensors; state saved before the first step (none) is zeros, which
        is what Adam starts from."""
        for key, value in live.items():
            if torch.is_tensor(value) and key in kept:
                value.copy_(kept[key])
            elif torch.is_tensor(value):
                value.zero_()
            elif key in kept:
                live[key] = kept[key]


class DivergenceGuard:
    """Decides at each synchronisation whether the fit diverged, and rolls it back if so."""

    def __init__(self, snapshot: Snapshot, guard_db: float) -> None:
        self.snapshot = snapshot
        self.factor = 10.0 ** (guard_db / 10.0)
        self.last_good = math.inf
        self.rollbacks = 0
        self.good_checks = 0

    def check(self, losses: Sequence[float]) -> bool:
        """``True`` when ``losses`` (since the last check) are healthy and the state was kept; else rolls back."""
        if not all(map(math.isfinite, losses)) or losses[-1] > self.last_good * self.factor:
            self.snapshot.restore()
            self.rollbacks += 1
            return False
        self.last_good = losses[-1]
        self.good_checks += 1
        self.snapshot.save()
        return True
