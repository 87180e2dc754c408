"""The exponential average of a fit's output (DIP's denoising protocol averages with weight 0.99)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class OutputAverage:
    """Exponential average of the fit's output (``weight`` 0.99 for denoising); ``None`` weight: no average."""

    def __init__(self, weight: float | None) -> None:
        self.weight = weight
        self.value: torch.Tensor | None = None

    def update(self, current: torch.Tensor) -> torch.Tensor:
        """Fold ``current`` in; returns what the fit reports at this step (the average, or ``current``)."""
        if self.weight is None:
            return current
        if self.value is None:
            self.value = current.clone()
        else:
            self.value.mul_(self.weight).add_(current, alpha=1.0 - self.weight)
        return self.value

    def save(self, saved: torch.Tensor | None) -> torch.Tensor | None:
        """A copy of the average (``None`` while there is none), written into ``saved`` when it exists."""
        if self.value is None:
            return None
        return self.value.clone() if saved is None else saved.copy_(self.value)

    def restore(self, saved: torch.Tensor | None) -> None:
        """Return to a copy made by :meth:`save`."""
        self.value = None if saved is None else saved.clone()
