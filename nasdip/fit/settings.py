"""The hyper-parameters of one DIP fit (:class:`FitSettings`): steps, learning rate, jitter, stopping, precision."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from nasdip.errors import NasdipError
from nasdip.fit.acceleration import check_switch
from nasdip.fit.stopping import DEFAULT_HOLDOUT, StopConfig, check_stop_settings, resolve_rule
from nasdip.options import MAX_LEARNING_RATE, MAX_STEPS

#: Precision names accepted everywhere (``--precision``, :class:`FitSettings`).
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class FitSettings:
    """Hyper-parameters of one DIP fit (tasks provide the paper's values).

    Attributes:
        iters: optimisation steps.
        lr: Adam learning rate.
        reg_noise: standard deviation of the jitter added to the noise input at every step.
        input_scale: the noise input is uniform in [0, input_scale).
        ema: weight of the exponential average of the output (0.99 for denoising), or ``None``.
        guard_db: roll back when the loss rises by more than this many dB between synchronisations.
        sync_every: steps between host synchronisations (guard, progress, callbacks).
        log_every: steps between the values reported to ``fit_progress`` (read at synchronisations, so it
            costs no extra host synchronisation).
        stop: ``iters`` (run all ``iters`` steps) or a detector that stops without ground truth (``auto``,
            ``wmv``, ``holdout``: :mod:`nasdip.fit.stopping`); ``iters`` is then the cap.
        stop_window: steps the detector averages over.
        stop_patience: steps without a new minimum after which the detector stops the fit.
        holdout: fraction of the observed pixels left out of the loss (self-validation); their error is
            reported as ``holdout_psnr`` and drives the ``holdout`` detector and reward.
        seed: seeds network initialisation, the noise input and the jitter.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
        precision: ``fp32``, ``bf16`` (autocast and channels-last; output head, loss and grouped convolutions on
            CPUs stay fp32) or ``auto`` (bf16 where the device computes it natively, see
            :func:`nasdip.fit.device.resolve_precision`).
        compile: run the network through ``torch.compile`` (normalisation, activation and padding fused around the
            convolutions; pays after some hundred steps at 256x256, see the speed results in the docs). Falls back to eager
            execution, with a warning, when compiling fails; packed fits stay eager. ``auto``: where it was measured
            to pay (:func:`nasdip.fit.acceleration.resolve_compile`).
        cuda_graphs: on CUDA, capture the whole step (jittered input, forward, backward, Adam) once as a CUDA graph
            and replay it; ``auto``: for small steps (:func:`nasdip.fit.acceleration.resolve_cuda_graphs`).
            Falls back to eager steps, with a warning, when capturing fails; ignored elsewhere.
    """

    iters: int = 2000
    lr: float = 0.01
    reg_noise: float = 0.03
    input_scale: float = 0.1
    ema: float | None = None
    guard_db: float = 5.0
    sync_every: int = 25
    log_every: int = 5
    stop: str = "iters"
    stop_window: int = 50
    stop_patience: int = 300
    holdout: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    compile: bool | str = False
    cuda_graphs: bool | str = "auto"

    def __post_init__(self) -> None:
        if self.iters < 1:
            raise NasdipError(f"iters must be at least 1, got {self.iters}")
        if self.iters > MAX_STEPS:
            raise NasdipError(f"iters must be at most {MAX_STEPS:,}, got {self.iters:,}")
        if self.sync_every < 1 or self.log_every < 1:
            raise NasdipError("sync_every and log_every must be at least 1")
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LEARNING_RATE):
            raise NasdipError(f"the learning rate must be a finite number in (0, {MAX_LEARNING_RATE:g}], got {self.lr}")
        if self.precision not in PRECISIONS:
            raise NasdipError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise NasdipError(f"ema must be in [0, 1), got {self.ema}")
        check_switch("compile", self.compile)
        check_switch("cuda_graphs", self.cuda_graphs)
        check_stop_settings(self.stop, self.stop_window, self.stop_patience, self.holdout, self.iters)

    @property
    def stop_config(self) -> StopConfig:
        return StopConfig(self.stop, self.stop_window, self.stop_patience, min_steps=self.stop_window)

    def replace(self, **changes: Any) -> FitSettings:
        """A copy with the given fields changed; ``None`` values leave a field as it is."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_stopping(self, needs_holdout: bool = False, **values: Any) -> FitSettings:
        """A copy with the stopping values given (``None`` ignored); a detector or reward that needs held-out
        pixels (``needs_holdout``) gets :data:`nasdip.fit.stopping.DEFAULT_HOLDOUT` when no fraction is set."""
        values = {key: value for key, value in values.items() if value is not None}
        rule = resolve_rule(values.get("stop", self.stop))
        if (needs_holdout or rule == "holdout") and not values.get("holdout", self.holdout):
            values["holdout"] = DEFAULT_HOLDOUT
        return self.replace(**values)
