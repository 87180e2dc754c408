"""``denoise``: Gaussian denoising (DIP / NAS-DIP protocol).

Observation: ``clip(clean + N(0, (sigma/255)^2), 0, 1)``. Defaults: 3000 steps, Adam lr 0.01, reg_noise 1/30,
exponential average of the output (0.99), roll back when the loss rises by more than 5 dB; ``restore`` stops
automatically (``--stop auto``, the 3000 steps its cap) unless told otherwise. Metrics: PSNR and
SSIM over all channels of the full image.
"""

from __future__ import annotations

import torch

from nasdip.fit.problem import Problem
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.io.images import ImageInfo
from nasdip.ops import add_gaussian_noise
from nasdip.options import Option
from nasdip.tasks import DIP_BASELINE


class Denoising(Task):
    """Denoising: the network output must match the noisy image; its running average is the result."""

    name = "denoise"
    help = "Gaussian denoising (sigma on the 0-255 scale; averaged output)"
    options = (Option("sigma", float, 25.0, "Noise standard deviation on the 0-255 scale.", min=0, min_open=True,
                      max=255),)
    baseline_name = "noisy"
    default_arch = "nasdip-denoise"
    reference_archs = (DIP_BASELINE, "nasdip-denoise")
    auto_include = (DIP_BASELINE, "nasdip-denoise", "searched-denoise")
    no_reference_reward = "holdout"
    #: The automatic stop returned 1.9-9.8 dB more than the 3000 fixed steps (docs: stopping results).
    restore_stop = "auto"

    def settings(self) -> FitSettings:
        return FitSettings(iters=3000, lr=0.01, reg_noise=1.0 / 30.0, ema=0.99, guard_db=5.0)

    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        self.check_size(clean)
        noisy = add_gaussian_noise(clean, self.values["sigma"] / 255.0, generator)
        return Problem(noisy, tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        self.check_size(observation)
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)
