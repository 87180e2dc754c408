"""The DIP fitting engine: fit a freshly initialised network to one observation through a task's operator.

Each step feeds the fixed noise input plus fresh jitter (``reg_noise``), takes an Adam step on the task's loss
and, optionally, updates an exponential average of the output (on CUDA, small steps replay one captured CUDA
graph: :mod:`nasdip.fit.graphs`); :class:`nasdip.fit.tracker.FitTracker` keeps
the rest of the fit's state. The engine reports to the request's run (its lifecycle hooks) and callbacks only.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from nasdip.fit.acceleration import resolve_compile, resolve_cuda_graphs
from nasdip.fit.device import resolve_precision
from nasdip.fit.graphs import GraphedStep
from nasdip.fit.guard import DivergenceGuard, Snapshot
from nasdip.fit.tracker import FitTracker, build_seeded

if TYPE_CHECKING:
    from nasdip.fit.request import FitRequest
    from nasdip.fit.result import FitResult


class Fitter(FitTracker):
    """One fit in progress: a network, its Adam optimiser and the fit's :class:`FitTracker`."""

    def __init__(self, request: FitRequest) -> None:
        settings = request.settings
        precision = resolve_precision(settings.precision, request.device, request.step_work)
        self.fast = precision == "bf16"
        net = build_seeded(request)
        super().__init__(request, precision, getattr(net, "input_depth", request.config.input_depth))
        if self.fast:
            net, self.z = net.to(memory_format=torch.channels_last), self.z.contiguous(memory_format=torch.channels_last)
        self.net = net
        self.compiled = resolve_compile(settings.compile, self.device, precision, request.step_work, settings.iters)
        self.network = torch.compile(net, dynamic=False) if self.compiled else net
        self.cuda_graphs = resolve_cuda_graphs(settings.cuda_graphs, self.device, self.compiled, request.step_work)
        params = [p for p in net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=settings.lr, **({"capturable": True} if self.cuda_graphs else {}))
        snapshot = Snapshot(params, self.optimizer, self.average, in_place=self.cuda_graphs)
        self.guard = DivergenceGuard(snapshot, settings.guard_db)
        self.graphed = GraphedStep(self) if self.cuda_graphs else None

    def forward(self, z: torch.Tensor, network: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        # A CUDA graph cannot keep autocast's cache of cast weights (they would be cast once, at the capture).
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.fast,
                            cache_enabled=not self.cuda_graphs):
            return (network or self.network)(z).float()

    def clean_output(self) -> torch.Tensor:
        return self.forward(self.z, self.net)  # eager: one evaluation is not worth a compiled inference graph

    def step(self) -> torch.Tensor:
        """One optimisation step; everything stays on the device. Returns the step's reported output (the
        average when there is one)."""
        if self.graphed is not None:
            return self._graphed_step()
        if self.steps == 0 and self.compiled:
            return self._first_compiled_step()
        return self._step()

    def _graphed_step(self) -> torch.Tensor:
        """A step of the CUDA graph (:mod:`nasdip.fit.graphs`); if capturing fails, the fit continues eagerly from
        the same state (parameters and jitter untouched: nothing runs while capturing)."""
        jitter = self.generator.get_state()
        try:
            output, loss = self.graphed.step()
        except Exception as error:  # a step that cannot be captured still runs eagerly
            warnings.warn(f"CUDA graph capture failed ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                          "fitting without it", RuntimeWarning, stacklevel=3)
            self.graphed, self.cuda_graphs = None, False
            self.generator.set_state(jitter)
            self.optimizer.zero_grad(set_to_none=True)
            return self._step()
        return self.record(output, loss)

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


def fit(request: FitRequest) -> FitResult:
    """Fit a network of the request's architecture to its problem and return the restoration."""
    fitter = Fitter(request)
    start = time.perf_counter()
    while fitter.steps < request.settings.iters:
        fitter.step()
        if fitter.due() and fitter.synchronise():
            break
    result = fitter.result(start)
    if request.run is not None:
        request.run.emit("fit_finished", result=result)
    return result
