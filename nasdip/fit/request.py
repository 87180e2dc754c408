"""What one fit needs (:class:`FitRequest`): the task, the problem, the architecture, the network settings, the
fitting settings, who hears about it, and the device it runs on, resolved once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nasdip.fit.device import resolve_device

if TYPE_CHECKING:
    import torch

    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.nn.config import NetConfig
    from nasdip.runinfo import RunInfo

#: A callback sees ``(step, metrics)`` at every synchronisation; returning True stops the fit early.
Callback = Callable[[int, Mapping[str, float]], "bool | None"]


@dataclass(frozen=True)
class FitRequest:
    """One fit to perform: restore ``problem`` for ``task`` with a freshly initialised network of ``arch`` (built
    at ``config``) fitted with ``settings``.

    Attributes:
        run: the run the fit belongs to; its lifecycle hooks (``fit_progress``, ``fit_finished``) hear about the
            fit. ``None``: nobody does.
        callbacks: called at every synchronisation with ``(step, metrics)``; one returning True stops the fit.
        device: where the fit runs: ``settings.device`` resolved (``auto`` is CUDA when available). Given
            explicitly only to reuse a resolution.
    """

    task: Task
    problem: Problem
    arch: Arch
    config: NetConfig
    settings: FitSettings
    run: RunInfo | None = None
    callbacks: tuple[Callback, ...] = ()
    device: torch.device | None = None

    def __post_init__(self) -> None:
        if self.device is None:
            object.__setattr__(self, "device", resolve_device(self.settings.device))

    def replace(self, **changes: Any) -> FitRequest:
        """A copy with some fields changed; new settings naming another device resolve it anew."""
        settings = changes.get("settings")
        if settings is not None and settings.device != self.settings.device:
            changes.setdefault("device", None)
        return dataclasses.replace(self, **changes)

    def with_settings(self, **changes: Any) -> FitRequest:
        """A copy whose settings have the given fields changed (``None`` values leave a field as it is)."""
        return self.replace(settings=self.settings.replace(**changes))

    @property
    def step_work(self) -> int:
        """A fitting step's size for the precision decision: output pixels x network width."""
        height, width = self.problem.output_size
        return height * width * self.config.width
