"""``deblur``: Gaussian deblurring, the example plugin's task.

Observation: the clean image blurred by a Gaussian of standard deviation ``--blur`` pixels, plus Gaussian noise
of ``--noise`` on the 0-255 scale. The forward operator is the same blur (kornia's ``gaussian_blur2d``), so the
network's output, blurred, must match the observation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from kornia.filters import gaussian_blur2d

from nasdip import FitSettings, Option, Problem, Task

if TYPE_CHECKING:
    from nasdip import ImageInfo


def blur_radius(sigma: float) -> int:
    """Half the side of the blur's kernel (about 3 sigma)."""
    return max(1, round(3 * sigma))


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``image`` blurred by a Gaussian of standard deviation ``sigma`` pixels (a kernel of about 6 sigma)."""
    size = 2 * blur_radius(sigma) + 1
    return gaussian_blur2d(image, (size, size), (sigma, sigma), border_type="reflect")


class Deblurring(Task):
    """Deblurring: the network output, blurred, must match the blurred photo."""

    name = "deblur"
    help = "Gaussian deblurring (example plugin)"
    options = (
        Option("blur", float, 2.0, "Standard deviation of the Gaussian blur, in pixels.", min=0.1, max=10),
        Option("noise", float, 2.0, "Standard deviation of the added noise on the 0-255 scale.", min=0, max=255),
    )
    baseline_name = "blurred"
    default_arch = "dip-skip"

    def min_output_size(self) -> int:
        """The blur's reflected border must be narrower than the image, besides the metrics' own minimum."""
        return max(super().min_output_size(), blur_radius(self.values["blur"]) + 1)

    def settings(self) -> FitSettings:
        return FitSettings(iters=2000, lr=0.01, reg_noise=0.03)

    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        self.check_size(clean)
        noise = torch.randn(clean.shape, generator=generator) * self.values["noise"] / 255.0
        observation = (blur(clean, self.values["blur"]) + noise).clamp(0, 1)
        return Problem(observation, tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        self.check_size(observation)
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)

    def operator(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        return blur(output, self.values["blur"])
