"""``sr``: single-image super-resolution by x2, x4 or x8 (DIP / NAS-DIP protocol).

Degradation and loss use one operator, :func:`nasdip.ops.downsample` (kornia's anti-aliased bicubic resize).
Clean images are centre-cropped to a multiple of 32 (the release's protocol; a multiple of the scale for
smaller ones). Metrics: PSNR and SSIM on the BT.601 Y channel with ``scale`` border pixels shaved.
No-reference reward: ``cross-scale`` (:meth:`SuperResolution.self_validation_problem`).
Defaults: x2/x4 2000 steps with reg_noise 0.03, x8 4000 steps with reg_noise 0.05, Adam lr 0.01.
"""

from __future__ import annotations

import math

import torch

from nasdip.fit.problem import Problem
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.io.crops import crop_to_multiple
from nasdip.io.images import ImageInfo
from nasdip.ops import downsample, upsample_bicubic
from nasdip.ops.metrics import psnr_y, ssim_y
from nasdip.options import Option
from nasdip.tasks import DIP_BASELINE


class SuperResolution(Task):
    """Super-resolution: the network output, downsampled, must match the low-resolution image."""

    name = "sr"
    help = "super-resolution x2/x4/x8 (PSNR/SSIM on Y, border shaved)"
    options = (Option("scale", int, 4, "Upscaling factor.", choices=(2, 4, 8)),)
    baseline_name = "bicubic"
    default_arch = "nasdip-sr"
    reference_archs = (DIP_BASELINE, "nasdip-sr")
    auto_include = (DIP_BASELINE, "nasdip-sr", "searched-sr")
    no_reference_reward = "cross-scale"
    self_validation = "cross-scale"

    @property
    def scale(self) -> int:
        return self.values["scale"]

    def settings(self) -> FitSettings:
        if self.scale == 8:
            return FitSettings(iters=4000, lr=0.01, reg_noise=0.05)
        return FitSettings(iters=2000, lr=0.01, reg_noise=0.03)

    def metric_border(self) -> int:
        """The metrics shave ``scale`` pixels off each border."""
        return self.scale

    def min_input_size(self, observed: bool = False) -> int:
        """The low-resolution side whose restoration is at least :meth:`min_output_size` (``observed``), or that
        side times the scale for a clean image (clean images are cropped to a multiple of the scale)."""
        low = math.ceil(self.min_output_size() / self.scale)
        return low if observed else low * self.scale

    def prepare_clean(self, clean: torch.Tensor) -> torch.Tensor:
        self.check_size(clean)
        height, width = clean.shape[-2:]
        multiple = 32 if min(height, width) >= 32 * 2 else self.scale
        return crop_to_multiple(clean, multiple)

    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        clean = self.prepare_clean(clean)
        return Problem(downsample(clean, self.scale), tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        self.check_size(observation, "the low-resolution image", observed=True)
        height, width = observation.shape[-2:]
        return Problem(observation, (height * self.scale, width * self.scale), name=name, info=info)

    def self_validation_problem(self, problem: Problem) -> Problem:
        """Cross-scale self-validation (ZSSR, Shocher et al., CVPR 2018): the observation, centre-cropped to a
        multiple of the scale, is the clean image of a problem observing it downsampled once more by the task's
        own operator; too small an observation is a one-line error."""
        low = problem.observation
        what = f"the low-resolution image (cross-scale self-validation restores it from a x{self.scale} smaller copy)"
        self.check_size(low, what)
        clean = crop_to_multiple(low, self.scale)
        return Problem(downsample(clean, self.scale), tuple(clean.shape[-2:]), clean=clean, name=problem.name)

    def operator(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        return downsample(output, self.scale)

    def score(self, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        return psnr_y(restored, clean, border=self.scale)[0]

    def metrics(self, restored: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        return {"psnr": float(self.score(restored, clean)), "ssim": float(ssim_y(restored, clean, border=self.scale)[0])}

    def baseline(self, problem: Problem) -> torch.Tensor:
        return upsample_bicubic(problem.observation, self.scale)
