"""``inpaint``: fill missing pixels (DIP / NAS-DIP protocol).

The mask marks known pixels (1) and missing ones (0): ``--mask FILE`` (black and white, white = known, same size as the image)
or ``--drop P``, a Bernoulli mask keeping a pixel where U > P (P = 0.5 in the paper; one draw per pixel, shared by
the channels). The loss is DIP's ``mean((mask * (output - observation))^2)``. Defaults: 11000 steps, Adam lr
0.001 (NAS-DIP), reg_noise 0.03. Metrics: PSNR and SSIM over the full image.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nasdip.errors import NasdipError, UsageError
from nasdip.fit.problem import Problem
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.io.images import ImageInfo, load_image
from nasdip.ops import apply_mask, bernoulli_mask
from nasdip.options import Option
from nasdip.tasks import DIP_BASELINE

#: Channel spread (on the 0-1 scale) above which a pixel is coloured: larger than JPEG's chroma noise on grey.
COLOUR_SPREAD = 0.1
#: Fraction of pixels that may be coloured, or grey between black and white, before a mask file is refused.
TOLERATED_FRACTION = 0.05


def mask_from_image(image: torch.Tensor, name: str) -> torch.Tensor:
    """The ``(1, 1, H, W)`` known-pixel mask (white = known) of a black-and-white mask image.

    Grey files and RGB files whose pixels are grey are accepted; a colour image or a photograph (more than
    :data:`TOLERATED_FRACTION` of its pixels coloured, or grey between 25% and 75%) is refused: it is not a mask.
    Anti-aliased edges and JPEG noise stay well below that fraction.
    """
    if image.shape[1] > 1:
        coloured = (image.amax(dim=1) - image.amin(dim=1) > COLOUR_SPREAD).float().mean().item()
        if coloured > TOLERATED_FRACTION:
            raise NasdipError(f"{name}: is a colour image ({coloured:.0%} of its pixels coloured), not a mask; "
                              "a mask is black (missing) and white (known)")
    grey = image.mean(dim=1, keepdim=True)
    undecided = ((grey > 0.25) & (grey < 0.75)).float().mean().item()
    if undecided > TOLERATED_FRACTION:
        raise NasdipError(f"{name}: {undecided:.0%} of its pixels are neither black nor white, so it is not a mask; "
                          "a mask is black (missing) and white (known)")
    known = (grey > 0.5).float()
    if known.sum() == 0:
        raise NasdipError(f"{name}: the mask marks no pixel as known (white = known)")
    return known


class Inpainting(Task):
    """Inpainting: the network output must match the known pixels."""

    name = "inpaint"
    help = "inpainting with a mask file (--mask) or random pixel drop-out (--drop)"
    options = (
        Option("mask", str, None, "Mask image: white = known pixel (default: a random --drop mask).",
               metavar="MASK.png"),
        Option("drop", float, 0.5, "Fraction of pixels dropped when no --mask is given.", min=0, max=1,
               max_open=True),
    )
    baseline_name = "masked"
    default_arch = "nasdip-inpaint"
    reference_archs = (DIP_BASELINE, "nasdip-inpaint")
    auto_include = (DIP_BASELINE, "nasdip-inpaint")
    no_reference_reward = "holdout"

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
        name = Path(path).name
        if tuple(mask.shape[-2:]) != tuple(size):
            raise NasdipError(f"{name}: mask is {mask.shape[-1]}x{mask.shape[-2]} but the image is {size[1]}x{size[0]}")
        return mask_from_image(mask, name)

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
