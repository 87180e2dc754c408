"""What a fit returns (:class:`FitResult`), and the error of a fit that has nothing to return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nasdip.errors import NasdipError

if TYPE_CHECKING:
    import torch

    from nasdip.fit.settings import FitSettings


@dataclass
class FitResult:
    """The outcome of one fit.

    ``metrics`` holds the task's metrics of the returned output when ground truth is known (``psnr`` and
    ``ssim`` for the built-in tasks), ``<score>_max`` (the best score over all iterations: an oracle, for
    comparison with published numbers) and ``<score>_max_step``, where ``<score>`` is the task's
    ``score_name``; ``stop_step`` (the step whose output is returned) and, with held-out pixels,
    ``holdout_psnr`` (their error at that step, in dB) need no ground truth. ``stop_reason`` is ``iters`` (a
    fixed number of steps), ``detected`` (a detector fired), ``cap`` (it did not fire before ``iters``) or
    ``callback`` (a callback stopped the fit). ``packed`` is the number of fits computed together in one packed
    network (:mod:`nasdip.fit.packed`; ``seconds`` is then the pack's wall time shared equally). ``compiled``:
    the network ran through ``torch.compile`` (``FitSettings.compile`` and compilation succeeded).
    ``cuda_graphs``: its steps replayed a captured CUDA graph (``FitSettings.cuda_graphs`` and capture succeeded).
    """

    output: torch.Tensor
    metrics: dict[str, float]
    losses: list[float]
    scores: list[float]
    iters: int
    seconds: float
    rollbacks: int
    settings: FitSettings
    device: str
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    precision: str = "fp32"
    stop_reason: str = "iters"
    heldout: list[float] = field(default_factory=list)
    packed: int = 1
    compiled: bool = False
    cuda_graphs: bool = False


class FitDiverged(NasdipError):
    """Every check of a fit found it diverged: there is no restoration to return."""
