"""What lifecycle hooks receive about the run they observe."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch


@dataclass
class RunInfo:
    """A run (``restore``, ``bench``, ``search``, ...) as loggers see it.

    Attributes:
        kind: the command or activity (``restore``, ``bench``, ``search``).
        logdir: where loggers write (TensorBoard event files), or ``None`` for no logs.
        tag: the current fit inside the run (``image/arch``), used as a prefix by loggers.
        config: the run's settings, seeds included (recorded as hyper-parameters).
        images: named images for loggers (``observation``, ``clean``, ``baseline``), ``(1, C, H, W)`` in [0, 1].
    """

    kind: str
    logdir: Path | None = None
    tag: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    images: dict[str, torch.Tensor] = field(default_factory=dict)

    def child(self, tag: str, **images: torch.Tensor) -> RunInfo:
        """The same run, focused on one fit (``tag``) with its own images."""
        return replace(self, tag=tag, images=images)
