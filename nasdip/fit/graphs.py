"""A fitting step captured once as a CUDA graph and replayed (CUDA only; :class:`GraphedStep`).

A DIP step has static shapes: the same noise input, network, loss and Adam update at every step. Captured as one
CUDA graph, a step is one launch instead of hundreds of small kernel launches, which dominate small fits (search
fidelities). The jitter is drawn eagerly, before each replay, into a static buffer from the fit's own generator,
so the noise sequence is the eager fit's; the output and loss land in static tensors that the tracker's
bookkeeping (average, buffers, stopping) reads after the replay. Adam runs with ``capturable=True`` (its step
counts live on the device), the first :data:`WARMUP_STEPS` steps run eagerly on a side stream (PyTorch's
recipe for whole-network capture), and the divergence guard restores the optimiser's state in place, where the
graph reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from nasdip.fit.engine import Fitter

#: Eager steps before the capture (on a side stream): they initialise Adam's state and the libraries' workspaces.
WARMUP_STEPS = 3


class GraphedStep:
    """The step of one :class:`nasdip.fit.engine.Fitter` as a CUDA graph, captured at step
    :data:`WARMUP_STEPS` + 1 and replayed from then on."""

    def __init__(self, fitter: Fitter) -> None:
        self.fitter = fitter
        self.noise = torch.zeros(fitter.z.shape, device=fitter.device)  # contiguous, as eager ``randn`` draws it
        self.side = torch.cuda.Stream(fitter.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output: torch.Tensor | None = None
        self.loss: torch.Tensor | None = None

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's arithmetic: jittered input, forward, loss, backward, Adam (gradients already cleared)."""
        fitter = self.fitter
        z = fitter.z + fitter.settings.reg_noise * self.noise if fitter.settings.reg_noise else fitter.z
        output = fitter.forward(z)
        loss = fitter.loss(output)
        loss.backward()
        fitter.optimizer.step()
        return output, loss

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw this step's jitter, then run the step (eagerly while warming up, else by replaying the graph,
        capturing it first); returns its output and loss (the graph's static tensors once captured)."""
        fitter = self.fitter
        if fitter.settings.reg_noise:
            self.noise.normal_(generator=fitter.generator)
        if fitter.steps < WARMUP_STEPS:
            return self._warm_up()
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.output, self.loss

    def _warm_up(self) -> tuple[torch.Tensor, torch.Tensor]:
        current = torch.cuda.current_stream(self.fitter.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            self.fitter.optimizer.zero_grad(set_to_none=True)
            result = self.compute()
        current.wait_stream(self.side)
        return result

    def _capture(self) -> None:
        """Record one step into a fresh graph (nothing runs while capturing; the first replay performs it)."""
        self.fitter.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.output, self.loss = self.compute()
        self.graph = graph
