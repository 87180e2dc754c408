"""Untrained networks: what a candidate outputs before any fitting, for training-free scores.

A fit starts from a freshly initialised model and a fixed noise input; :func:`untrained_outputs` computes that
model's output on a few noise inputs at once (one batch, forward only, no gradients). The model is built and
initialised exactly as the fit's (:func:`nasdip.fit.tracker.build_seeded`), and the first noise input is the fit's
own; batch norm runs as in fitting (training mode), so its statistics are taken over the batch of noise inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from nasdip.fit.request import FitRequest
from nasdip.fit.tracker import build_seeded

if TYPE_CHECKING:
    from nasdip.arch.document import Arch
    from nasdip.fit.problem import Problem
    from nasdip.fit.settings import FitSettings
    from nasdip.fit.task import Task
    from nasdip.nn.config import NetConfig

#: Noise inputs each untrained model sees (their outputs' spectra are averaged by the scores).
NOISE_INPUTS = 2


def noise_inputs(request: FitRequest, depth: int, count: int) -> torch.Tensor:
    """``(count, depth, H, W)`` noise drawn as the fit draws its input (the first is the fit's own)."""
    height, width = request.problem.output_size
    generator = torch.Generator(device=request.device).manual_seed(request.settings.seed)
    return torch.rand(count, depth, height, width, generator=generator, device=request.device) * \
        request.settings.input_scale


@torch.inference_mode()
def untrained_output(request: FitRequest, count: int = NOISE_INPUTS) -> torch.Tensor:
    """The request's freshly initialised model on ``count`` noise inputs: ``(count, C, H, W)`` model outputs."""
    model = build_seeded(request)  # in training mode, as built
    return model(noise_inputs(request, getattr(model, "input_depth", request.config.input_depth), count)).float()


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
