"""Untrained networks: what a candidate outputs before any fitting, for training-free scores.

A fit starts from a freshly initialised model and a fixed noise input; :func:`untrained_outputs` computes that
model's output on a few noise inputs at once (one batch, forward only, no gradients). The model is initialised
exactly as the fit's (:func:`nasdip.fit.tracker.build_seeded`; where the space can, one network per thread is
rebuilt in place and re-initialised instead of building one per candidate, :func:`seeded_model`, and the part of
its forward pass that no choice changes is computed once for many candidates, :func:`untrained_output`), and the
first noise input is the fit's own; batch norm runs as in fitting (training mode), so its statistics are taken over
the batch of noise inputs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from nasdip.arch.build import rebuild_network
from nasdip.fit.request import FitRequest
from nasdip.fit.task import Task
from nasdip.fit.tracker import build_seeded
from nasdip.nn.init import reinitialisable, reinitialise
from nasdip.nn.padded import PaddedNet

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.settings import FitSettings
    from nasdip.nn.config import NetConfig

#: Noise inputs each untrained model sees (their outputs' spectra are averaged by the scores).
NOISE_INPUTS = 2


def noise_inputs(request: FitRequest, depth: int, count: int) -> torch.Tensor:
    """``(count, depth, H, W)`` noise drawn as the fit draws its input (the first is the fit's own)."""
    height, width = request.problem.output_size
    generator = torch.Generator(device=request.device).manual_seed(request.settings.seed)
    return torch.rand(count, depth, height, width, generator=generator, device=request.device) * \
        request.settings.input_scale


_POOL = threading.local()  # per thread: models kept for rebuilding, by what they must share; their encodings


def _seeded(request: FitRequest) -> tuple[torch.nn.Module, tuple | None]:
    """:func:`seeded_model`'s model and the key the thread keeps it under (``None``: built for this call only)."""
    if type(request.task).build_model is not Task.build_model:
        return build_seeded(request), None
    pool: dict = _POOL.__dict__.setdefault("models", {})
    config = request.config.replace(out_channels=request.problem.channels)
    key = (request.arch.space, config, str(request.device))
    model = pool.get(key)
    with torch.inference_mode(False):  # parameters with version counters: reinitialise skips what it would repeat
        if model is not None and rebuild_network(model, request.arch):
            return reinitialise(model, request.settings.seed), key
        model = build_seeded(request)
    if not reinitialisable(model):
        return model, None
    pool[key] = model
    _POOL.__dict__.setdefault("encodings", {}).pop(key, None)  # a new network: the old one's encoding goes
    return model, key


@torch.inference_mode()
def seeded_model(request: FitRequest) -> torch.nn.Module:
    """The request's model initialised from its seed as :func:`nasdip.fit.tracker.build_seeded` builds it, in
    training mode, for forward passes only (built and re-initialised in inference mode, whatever the caller's).
    Where the task builds the default model (one network) and its space can rebuild one in place
    (:meth:`nasdip.arch.space.Space.rebuild`), the thread's network of the same space, configuration and device
    is rebuilt and re-initialised (:func:`nasdip.nn.init.reinitialise`): the same weights, without constructing
    a network per candidate. The model is the thread's until its next call."""
    return _seeded(request)[0]


@torch.inference_mode()
def untrained_output(request: FitRequest, count: int = NOISE_INPUTS) -> torch.Tensor:
    """The request's freshly initialised model on ``count`` noise inputs: ``(count, C, H, W)`` model outputs.

    Where the model is the thread's rebuilt network and splits its forward pass into a part no choice of the space
    changes and the rest (``encode`` and ``decode``, as :class:`nasdip.nn.crossscale.CrossScaleNet` does), the
    first part is computed once for every candidate of one seed and noise (the thread keeps the last encoding):
    the outputs are the same, bit for bit."""
    model, key = _seeded(request)
    depth = getattr(model, "input_depth", request.config.input_depth)
    net = getattr(model, "net", None)
    if key is None or not isinstance(model, PaddedNet) or not hasattr(net, "encode"):
        return model(noise_inputs(request, depth, count)).float()
    height, width = request.problem.output_size
    noise = (request.settings.seed, request.settings.input_scale, depth, count, height, width)
    encodings: dict = _POOL.__dict__.setdefault("encodings", {})
    kept = encodings.get(key)
    if kept is None or kept[0] != noise:
        kept = encodings[key] = (noise, net.encode(model.pad(noise_inputs(request, depth, count))))
    return model.crop(net.decode(kept[1]), height, width).float()


def untrained_outputs(task: Task, problems: Sequence[Problem], arch: Arch, config: NetConfig,
                      settings: FitSettings, count: int = NOISE_INPUTS) -> list[torch.Tensor]:
    """The untrained model's outputs for each problem (problems of one output size and channel count share one
    model and one forward pass): per problem ``(count, C, H, W)``, on the fit's device."""
    shared: dict[tuple, torch.Tensor] = {}
    outputs = []
    for problem in problems:
        key = (tuple(problem.output_size), problem.channels)
        if key not in shared:
            shared[key] = untrained_output(FitRequest(task, problem, arch, config, settings), count)
        outputs.append(shared[key])
    return outputs
