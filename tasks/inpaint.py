"""``inpaint``: fill missing pixels (DIP / NAS-DIP protocol).

The mask marks known pixels (1) and missing ones (0): ``--mask FILE`` (white = known, same size as the image)
or ``--drop P``, a Bernoulli mask keeping a pixel where U > P (P = 0.5 in the paper; one draw per pixel, shared by
the channels). The loss is DIP's ``mean((mask * (output - observation))^2)``. Defaults: 11000 steps, Adam lr
0.001 (NAS-DIP), reg_noise 0.03. Metrics: PSNR and SSIM over the full image.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nasdip import hookimpl
from nasdip.errors import NasdipError, UsageError
from nasdip.fit import FitSettings
from nasdip.imageio import ImageInfo, load_image
from nasdip.ops import apply_mask, bernoulli_mask
from nasdip.task import Problem, Task, TaskOption
from nasdip.tasks import DIP_BASELINE


class Inpainting(Task):
    """Inpainting: the network output must match the known pixels."""

    name = "inpaint"
    help = "inpainting with a mask file (--mask) or random pixel drop-out (--drop)"
    options = (
        TaskOption("mask", str, None, "Mask image: white = known pixel (default: a random --drop mask)."),
        TaskOption("drop", float, 0.5, "Fraction of pixels dropped when no --mask is given."),
    )
    baseline_name = "masked"
    default_arch = "nasdip-inpaint"
    reference_archs = (DIP_BASELINE, "nasdip-inpaint")

    def __init__(self, **values) -> None:
        super().__init__(**values)
        if not 0.0 <= self.values["drop"] < 1.0:
            raise UsageError(f"--drop must be in [0, 1), got {self.values['drop']}")

    def settings(self) -> FitSettings:
        return FitSettings(iters=11000, lr=0.001, reg_noise=0.03)

    def load_mask(self, size: tuple[int, int], generator: torch.Generator | None) -> torch.Tensor:
        """The ``(1, 1, H, W)`` known-pixel mask: from ``--mask`` or a Bernoulli draw."""
        path = self.values["mask"]
        if path is None:
            if generator is None:
                raise UsageError("task 'inpaint' needs --mask FILE for an image you bring (white = known pixel)")
            return bernoulli_mask(*size, self.values["drop"], generator)
        mask, _ = load_image(path)
        if tuple(mask.shape[-2:]) != tuple(size):
            raise NasdipError(
                f"{Path(path).name}: mask is {mask.shape[-1]}x{mask.shape[-2]} but the image is {size[1]}x{size[0]}"
            )
        known = (mask.mean(dim=1, keepdim=True) > 0.5).float()
        if known.sum() == 0:
            raise NasdipError(f"{Path(path).name}: the mask marks no pixel as known (white = known)")
        return known

    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        self.check_size(clean)
        mask = self.load_mask(tuple(clean.shape[-2:]), generator)
        return Problem(apply_mask(clean, mask), tuple(clean.shape[-2:]), clean=clean, name=name,
                       extras={"mask": mask})

    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        self.check_size(observation)
        mask = self.load_mask(tuple(observation.shape[-2:]), None)
        return Problem(apply_mask(observation, mask), tuple(observation.shape[-2:]), name=name, info=info,
                       extras={"mask": mask})

    def observed(self, problem: Problem) -> torch.Tensor:
        return problem.extras["mask"]

    def residual(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        return problem.extras["mask"] * (output - problem.observation)


@hookimpl
def register_tasks(register) -> None:
    register(Inpainting)
