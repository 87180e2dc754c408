"""The bookkeeping every fit shares (:class:`FitTracker`): noise input and jitter, held-out pixels, output average,
divergence guard, stopping rule, per-step device buffers, synchronisations and the result.

Nothing is read back to the host between synchronisation points (every ``sync_every`` steps): losses and scores
accumulate in device buffers. At each synchronisation the divergence guard (:mod:`nasdip.fit.guard`) checks the
losses since the last one, and progress goes to the run's ``fit_progress`` hook for every ``log_every``-th step
of the window and to the request's callbacks.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch

from nasdip.errors import NasdipError
from nasdip.fit.average import OutputAverage
from nasdip.fit.result import FitDiverged, FitResult
from nasdip.fit.stopping import heldout_psnr, make_stop_rule

if TYPE_CHECKING:
    from nasdip.fit.guard import DivergenceGuard
    from nasdip.fit.problem import Problem
    from nasdip.fit.request import FitRequest
    from nasdip.fit.task import Task

_BUILD_LOCK = threading.Lock()
#: The held-out pixels are drawn from ``seed + HOLDOUT_SEED_OFFSET`` (independent of the jitter).
HOLDOUT_SEED_OFFSET = 7919


def build_seeded(request: FitRequest) -> torch.nn.Module:
    """The task's model for the request's architecture on its device, initialised from the request's seed
    (thread-safe; global RNGs are left alone)."""
    device = request.device
    with _BUILD_LOCK, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(request.settings.seed)
        return request.task.build_model(request.arch, request.config, request.problem).to(device)


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
    one tracker; :mod:`nasdip.fit.packed` keeps one tracker per member of a packed network."""

    guard: DivergenceGuard
    compiled = False
    cuda_graphs = False

    def __init__(self, request: FitRequest, precision: str, depth: int) -> None:
        task, problem, settings, device = request.task, request.problem, request.settings, request.device
        self.task, self.settings, self.run, self.callbacks = task, settings, request.run, request.callbacks
        self.device, self.precision = device, precision
        self.problem = problem.to(device)
        self.generator = torch.Generator(device=device).manual_seed(settings.seed)
        height, width = problem.output_size
        self.z = torch.rand(1, depth, height, width, generator=self.generator, device=device) * settings.input_scale
        self._init_holdout(heldout_mask(task, problem, settings.holdout, settings.seed))
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
        first, self.checked = self.checked, self.steps
        window = self._window(first)  # the only host synchronisation
        if not self.guard.check(window["loss"]):
            return False
        if self.run is not None:
            for offset in range(self.steps - first):
                step = first + offset + 1
                if step % self.settings.log_every == 0 or step == self.steps:
                    self.run.emit("fit_progress", step=step,
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
                         compiled=self.compiled, cuda_graphs=self.cuda_graphs)

    def _heldout_at(self, step: int, heldout: list[float]) -> float:
        """The held-out PSNR of the returned step, averaged over the detector's window (less noisy than one
        step's value)."""
        window = heldout[max(0, step - self.settings.stop_window) : step]
        finite = [value for value in window if math.isfinite(value)]
        return heldout_psnr(sum(finite) / len(finite)) if finite else math.nan
