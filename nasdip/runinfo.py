"""What lifecycle hooks receive about the run they observe (:class:`RunInfo`), and how a run reaches them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasdip.plugin_manager import notify

if TYPE_CHECKING:
    import torch


@dataclass
class RunInfo:
    """A run (``restore``, ``bench``, ``search``, ...) as loggers see it.

    Whoever runs something (a command, the search driver, a plugin's own training loop) creates its ``RunInfo``
    and hands it down; the fitting engine and the search report through it (:meth:`emit`), never to the plugin
    system directly.

    Attributes:
        kind: the command or activity (``restore``, ``bench``, ``search``).
        logdir: where loggers write (TensorBoard event files), or ``None`` for no logs.
        tag: the current fit inside the run (``image/arch``), used as a prefix by loggers.
        config: the run's settings, seeds included (recorded as hyper-parameters).
        images: named images for loggers (``observation``, ``clean``, ``baseline``), ``(1, C, H, W)`` in [0, 1].
        listeners: called as ``listeners(hook_name, run=..., **arguments)`` for every lifecycle event; default:
            every installed plugin's hook of that name (:func:`nasdip.plugin_manager.notify`).
    """

    kind: str
    logdir: Path | None = None
    tag: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    images: dict[str, torch.Tensor] = field(default_factory=dict)
    listeners: Callable[..., None] = field(default=notify, repr=False, compare=False)

    def child(self, tag: str, **images: torch.Tensor) -> RunInfo:
        """The same run, focused on one fit (``tag``) with its own images."""
        return replace(self, tag=tag, images=images)

    def emit(self, hook_name: str, **arguments: Any) -> None:
        """Call the lifecycle hook ``hook_name`` (``run_started``, ``fit_progress``, ...) for this run; a failing
        listener is reported, never raised."""
        self.listeners(hook_name, run=self, **arguments)
