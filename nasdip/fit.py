"""The DIP fitting engine: fit a freshly initialised network to one observation through a task's operator.

Each step feeds the fixed noise input plus fresh jitter (``reg_noise``), takes an Adam step on the task's loss
and, optionally, updates an exponential average of the output. Nothing is read back to the host between
synchronisation points (every ``sync_every`` steps): losses and scores accumulate in device buffers. At each
synchronisation the divergence guard (:mod:`nasdip.guard`) checks the losses since the last one, and progress
is reported to the ``fit_progress`` hook for every ``log_every``-th step of the window.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from nasdip.device import PRECISIONS, resolve_device, resolve_precision
from nasdip.errors import NasdipError
from nasdip.guard import DivergenceGuard, OutputAverage, Snapshot
from nasdip.stopping import (
    DEFAULT_HOLDOUT,
    StopConfig,
    check_stop_settings,
    heldout_psnr,
    make_stop_rule,
    resolve_rule,
)

if TYPE_CHECKING:
    from nasdip.arch import Arch
    from nasdip.events import RunInfo
    from nasdip.nn.config import NetConfig
    from nasdip.task import Problem, Task

#: A callback sees ``(step, metrics)`` at every synchronisation; returning True stops the fit early.
Callback = Callable[[int, Mapping[str, float]], "bool | None"]

_BUILD_LOCK = threading.Lock()
#: The held-out pixels are drawn from ``seed + HOLDOUT_SEED_OFFSET`` (independent of the jitter).
HOLDOUT_SEED_OFFSET = 7919


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
            ``wmv``, ``holdout``: :mod:`nasdip.stopping`); ``iters`` is then the cap.
        stop_window: steps the detector averages over.
        stop_patience: steps without a new minimum after which the detector stops the fit.
        holdout: fraction of the observed pixels left out of the loss (self-validation); their error is
            reported as ``holdout_psnr`` and drives the ``holdout`` detector and reward.
        seed: seeds network initialisation, the noise input and the jitter.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.
        precision: ``fp32``, ``bf16`` (autocast and channels-last; output head, loss and grouped convolutions on
            CPUs stay fp32) or ``auto`` (bf16 where the device computes it natively, see
            :func:`nasdip.device.resolve_precision`).
        compile: run the network through ``torch.compile`` (normalisation, activation and padding fused around the
            convolutions; pays after some hundred steps at 256x256, see the README). Falls back to eager
            execution, with a warning, when compiling fails; packed fits stay eager.
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
    compile: bool = False

    def __post_init__(self) -> None:
        if self.iters < 1:
            raise NasdipError(f"iters must be at least 1, got {self.iters}")
        if self.sync_every < 1 or self.log_every < 1:
            raise NasdipError("sync_every and log_every must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise NasdipError(f"the learning rate must be a positive finite number, got {self.lr}")
        if self.precision not in PRECISIONS:
            raise NasdipError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise NasdipError(f"ema must be in [0, 1), got {self.ema}")
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
        pixels (``needs_holdout``) gets :data:`nasdip.stopping.DEFAULT_HOLDOUT` when no fraction is set."""
        values = {key: value for key, value in values.items() if value is not None}
        rule = resolve_rule(values.get("stop", self.stop))
        if (needs_holdout or rule == "holdout") and not values.get("holdout", self.holdout):
            values["holdout"] = DEFAULT_HOLDOUT
        return self.replace(**values)


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
    network (:mod:`nasdip.packed_fit`; ``seconds`` is then the pack's wall time shared equally). ``compiled``:
    the network ran through ``torch.compile`` (``FitSettings.compile`` and compilation succeeded).
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


class FitDiverged(NasdipError):
    """Every check of a fit found it diverged: there is no restoration to return."""


def build_seeded(task: Task, problem: Problem, arch: Arch, config: NetConfig, seed: int,
                 device: torch.device) -> torch.nn.Module:
    """The task's model for ``arch``, initialised from ``seed`` (thread-safe; global RNGs are left alone)."""
    with _BUILD_LOCK, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return task.build_model(arch, config, problem).to(device)


def heldout_mask(task: Task, problem: Problem, fraction: float, seed: int) -> torch.Tensor | None:
    """``(1, 1, h, w)`` mask of the observed pixels left out of the loss, drawn from ``seed`` on the CPU (so the
    jitter sequence of the fit is the same with and without it); ``None`` for ``fraction == 0``."""
    if fraction <= 0:
        return None
    height, width = problem.observation.shape[-2:]
    generator = torch.Generator().manual_seed(seed + HOLDOUT_SEED_OFFSET)
    mask = (torch.rand(1, 1, height, width, generator=generator) < fraction).float()
    observed = task.observed(problem)
    if observed is not None:
        mask = mask * observed.cpu()
    if mask.sum() == 0:
        raise NasdipError(f"a held-out fraction of {fraction} leaves no observed pixel out of {width}x{height}; "
                          f"raise --holdout or use a larger image")
    return mask


class FitTracker(ABC):
    """The bookkeeping of one fit apart from its network and optimiser: the problem on the device, the noise input
    and its jitter, the held-out pixels, the output average, the divergence guard (set by the engine), the
    stopping rule, the per-step device buffers and the synchronisations. :class:`Fitter` fits one network with
    one tracker; :mod:`nasdip.packed_fit` keeps one tracker per member of a packed network."""

    guard: DivergenceGuard
    compiled = False

    def __init__(self, task: Task, problem: Problem, settings: FitSettings, device: torch.device, precision: str,
                 depth: int, holdout: torch.Tensor | None, run: RunInfo | None = None,
                 callbacks: tuple[Callback, ...] = ()) -> None:
        self.task, self.settings, self.run, self.callbacks = task, settings, run, callbacks
        self.device, self.precision = device, precision
        self.problem = problem.to(device)
        self.generator = torch.Generator(device=device).manual_seed(settings.seed)
        height, width = problem.output_size
        self.z = torch.rand(1, depth, height, width, generator=self.generator, device=device) * settings.input_scale
        self._init_holdout(holdout)
        self.average = OutputAverage(settings.ema)
        self.stopper = make_stop_rule(settings.stop_config, problem.channels * height * width,
                                      torch.Generator().manual_seed(settings.seed), device)
        self.losses = torch.full((settings.iters,), math.nan, device=device)
        self.scores = torch.full((settings.iters,), math.nan, device=device)
        self.steps = 0
        self.checked = 0
        self.stop_reason = "iters" if self.stopper is None else "cap"

    def _init_holdout(self, holdout: torch.Tensor | None) -> None:
        self.holdout = None if holdout is None else holdout.to(self.device)
        self.fit_weight = None
        self.heldout = None
        if self.holdout is not None:
            observed = self.task.observed(self.problem)
            self.fit_weight = (1.0 - self.holdout) * (1.0 if observed is None else observed)
            self.heldout = torch.full((self.settings.iters,), math.nan, device=self.device)

    def jittered(self) -> torch.Tensor:
        """This step's input: the noise plus fresh jitter (drawn from the fit's own generator)."""
        z = self.z
        if self.settings.reg_noise:
            z = z + self.settings.reg_noise * torch.randn(z.shape, generator=self.generator, device=self.device)
        return z

    def loss(self, output: torch.Tensor) -> torch.Tensor:
        """The task's loss of ``output`` (over the pixels not held out)."""
        task, problem = self.task, self.problem
        return task.loss(output, problem) if self.fit_weight is None else task.loss(output, problem, self.fit_weight)

    def record(self, output: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """Fold in the step that produced ``output`` with ``loss`` (device operations only): the output average,
        the loss, score and held-out buffers, the stopping rule. Returns the step's reported output."""
        task, problem = self.task, self.problem
        with torch.no_grad():
            current = self.average.update(output.detach())
            self.losses[self.steps] = loss.detach()
            if problem.clean is not None:
                self.scores[self.steps] = task.score(task.render(current, problem), problem.clean)
            error = None
            if self.holdout is not None:
                error = task.heldout_error(current, problem, self.holdout)
                self.heldout[self.steps] = error
        self.steps += 1
        if self.stopper is not None:
            self.stopper.observe(self.steps, current, error)
        return current

    @abstractmethod
    def clean_output(self) -> torch.Tensor:
        """The network's output on the jitter-free input (what a fit without an average returns)."""

    def due(self) -> bool:
        """Whether this step is a synchronisation point."""
        return self.steps % self.settings.sync_every == 0 or self.steps == self.settings.iters

    def synchronise(self) -> bool:
        """Guard, progress, stopping rule and callbacks for the steps since the last call; ``True`` asks the fit
        to stop."""
        from nasdip.plugin_manager import notify

        first, self.checked = self.checked, self.steps
        window = self._window(first)  # the only host synchronisation
        if not self.guard.check(window["loss"]):
            return False
        if self.run is not None:
            for offset in range(self.steps - first):
                step = first + offset + 1
                if step % self.settings.log_every == 0 or step == self.steps:
                    notify("fit_progress", run=self.run, step=step,
                           metrics={key: values[offset] for key, values in window.items()})
        if self.stopper is not None and self.stopper.should_stop(self.steps):
            self.stop_reason = "detected"
            return True
        metrics = {key: values[-1] for key, values in window.items()}
        if any(callback(self.steps, metrics) for callback in self.callbacks):
            self.stop_reason = "callback"
            return True
        return False

    def _window(self, first: int) -> dict[str, list[float]]:
        """Per-step host values since ``first``: the loss, the score (with ground truth), the held-out PSNR."""
        window = {"loss": self.losses[first : self.steps].tolist()}
        if self.problem.clean is not None:
            window[self.task.score_name] = self.scores[first : self.steps].tolist()
        if self.heldout is not None:
            window["holdout_psnr"] = [heldout_psnr(value) for value in self.heldout[first : self.steps].tolist()]
        return window

    @torch.no_grad()
    def final(self) -> tuple[int, torch.Tensor]:
        """The returned step and output: the detected one, else the output average when there is one, else the
        network on the jitter-free input."""
        if self.guard.good_checks == 0 and self.guard.rollbacks:
            raise FitDiverged(f"the fit diverged at every check ({self.guard.rollbacks} rollbacks) and has no "
                              f"restoration; lower the learning rate (--lr, now {self.settings.lr})")
        selected = self.stopper.selection() if self.stop_reason == "detected" else None
        if selected is not None:
            step, output = selected
        else:
            step = self.steps
            output = self.average.value if self.average.value is not None else self.clean_output()
        if not torch.isfinite(output).all():
            raise FitDiverged("the restoration is not finite (the fit diverged); lower the learning rate (--lr)")
        return step, output

    def result(self, start: float) -> FitResult:
        """The restoration and its metrics; ``start`` is when fitting began (``time.perf_counter``)."""
        step, output = self.final()
        final, extras = self.task.finalize(output, self.problem)
        seconds = time.perf_counter() - start
        scores = self.scores[: self.steps].tolist()
        heldout = [] if self.heldout is None else self.heldout[: self.steps].tolist()
        metrics: dict[str, float] = {"stop_step": step}
        if heldout:
            metrics["holdout_psnr"] = self._heldout_at(step, heldout)
        if self.problem.clean is not None:
            metrics.update(self.task.metrics(final, self.problem.clean))
            name = self.task.score_name
            # Oracle: the best score over every iterate, the returned output included.
            candidates = [(value, index + 1) for index, value in enumerate(scores) if math.isfinite(value)]
            candidates.append((metrics[name], step))
            metrics[f"{name}_max"], metrics[f"{name}_max_step"] = max(candidates)
        return FitResult(output=final.detach().float().cpu().contiguous(), metrics=metrics,
                         losses=self.losses[: self.steps].tolist(), scores=scores, iters=self.steps, seconds=seconds,
                         rollbacks=self.guard.rollbacks, settings=self.settings, device=str(self.device),
                         extras={name: image.detach().float().cpu() for name, image in extras.items()},
                         precision=self.precision, stop_reason=self.stop_reason, heldout=heldout,
                         compiled=self.compiled)

    def _heldout_at(self, step: int, heldout: list[float]) -> float:
        """The held-out PSNR of the returned step, averaged over the detector's window (less noisy than one
        step's value)."""
        window = heldout[max(0, step - self.settings.stop_window) : step]
        finite = [value for value in window if math.isfinite(value)]
        return heldout_psnr(sum(finite) / len(finite)) if finite else math.nan


def step_work(problem: Problem, config: NetConfig) -> int:
    """A fitting step's size for the precision decision: output pixels x network width."""
    height, width = problem.output_size
    return height * width * config.width


class Fitter(FitTracker):
    """One fit in progress: a network, its Adam optimiser and the fit's :class:`FitTracker`."""

    def __init__(self, task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
                 run: RunInfo | None = None, callbacks: tuple[Callback, ...] = ()) -> None:
        device = resolve_device(settings.device)
        precision = resolve_precision(settings.precision, device, step_work(problem, config))
        self.fast = precision == "bf16"
        holdout = heldout_mask(task, problem, settings.holdout, settings.seed)
        net = build_seeded(task, problem, arch, config, settings.seed, device)
        depth = getattr(net, "input_depth", config.input_depth)
        super().__init__(task, problem, settings, device, precision, depth, holdout, run, callbacks)
        if self.fast:
            net, self.z = net.to(memory_format=torch.channels_last), self.z.contiguous(memory_format=torch.channels_last)
        self.net = net
        self.compiled = settings.compile
        self.network = torch.compile(net, dynamic=False) if settings.compile else net
        params = [p for p in net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=settings.lr)
        self.guard = DivergenceGuard(Snapshot(params, self.optimizer, self.average), settings.guard_db)

    def forward(self, z: torch.Tensor, network: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.fast):
            return (network or self.network)(z).float()

    def clean_output(self) -> torch.Tensor:
        return self.forward(self.z, self.net)  # eager: one evaluation is not worth a compiled inference graph

    def step(self) -> torch.Tensor:
        """One optimisation step; everything stays on the device. Returns the step's reported output (the
        average when there is one)."""
        if self.steps == 0 and self.compiled:
            return self._first_compiled_step()
        return self._step()

    def _first_compiled_step(self) -> torch.Tensor:
        """The first step compiles the network; if compiling fails, the fit continues eagerly from the same
        state (parameters and jitter untouched)."""
        jitter = self.generator.get_state()
        try:
            return self._step()
        except Exception as error:  # any compiler failure: the eager network still works
            warnings.warn(f"torch.compile failed ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                          "fitting without it", RuntimeWarning, stacklevel=3)
            self.network, self.compiled = self.net, False
            self.generator.set_state(jitter)
            self.optimizer.zero_grad(set_to_none=True)
            return self._step()

    def _step(self) -> torch.Tensor:
        output = self.forward(self.jittered())
        loss = self.loss(output)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return self.record(output, loss)


def fit(task: Task, problem: Problem, arch: Arch, config: NetConfig, settings: FitSettings,
        run: RunInfo | None = None, callbacks: tuple[Callback, ...] = ()) -> FitResult:
    """Fit a network of architecture ``arch`` to ``problem`` and return the restoration."""
    from nasdip.plugin_manager import notify

    fitter = Fitter(task, problem, arch, config, settings, run, callbacks)
    start = time.perf_counter()
    while fitter.steps < settings.iters:
        fitter.step()
        if fitter.due() and fitter.synchronise():
            break
    result = fitter.result(start)
    if run is not None:
        notify("fit_finished", run=run, result=result)
    return result
