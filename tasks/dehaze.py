"""``dehaze``: Double-DIP dehazing (Gandelsman et al., CVPR 2019) with generators from architecture documents.

Two DIP networks, each fed its own noise (input depth 8): ``J`` (the clear image, 3 channels, from ``--arch``)
and ``t`` (the transmission map, 1 channel, from ``--t-arch``, default the same architecture), squashed into
[0.1, 1]. The airlight ``A`` is the dark-channel-prior estimate (``--airlight dcp``) or that estimate refined by
gradient descent (``--airlight refine``). The fit minimises ``mean((t*J + (1-t)*A - I)^2) + tv_weight * TV(t)``
(Adam, lr 1e-3). The final ``t`` is smoothed by kornia's guided filter (guided by the hazy image) and the scene
is recovered as ``J = (I - A) / t + A``; both ``J`` and ``t`` are written. Large photos are downscaled so their
longer side is at most ``--max-side``.

No-reference reward: ``holdout`` (hazy pixels left out of the fit), so ``restore --arch auto`` chooses J's
generator for a hazy photo. For benchmarks and searches, :meth:`Dehazing.degrade` makes synthetic haze from a clean image with a smooth
random transmission ``exp(-beta * depth)`` and a whitish airlight, so PSNR/SSIM against the clean image exist.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import resize
from torch import nn

from nasdip.arch.build import build_network
from nasdip.arch.catalog import resolve_arch
from nasdip.errors import NasdipError
from nasdip.fit.problem import Problem
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.io.images import ImageInfo
from nasdip.ops.haze import (
    MIN_TRANSMISSION,
    add_haze,
    estimate_airlight,
    recover_scene,
    refine_transmission,
    smooth_transmission,
    total_variation,
)
from nasdip.options import Option
from nasdip.tasks import DIP_BASELINE

#: Noise channels of each Double-DIP generator.
INPUT_DEPTH = 8


class DoubleDIP(nn.Module):
    """The two generators and the airlight; outputs ``[J (3), t (1), A (3)]`` packed in 7 channels."""

    def __init__(self, image_net: nn.Module, transmission_net: nn.Module, airlight: torch.Tensor, refine: bool) -> None:
        super().__init__()
        self.image_net = image_net
        self.transmission_net = transmission_net
        self.input_depth = 2 * INPUT_DEPTH
        if refine:
            self.airlight = nn.Parameter(airlight.view(1, 3, 1, 1).clone())
        else:
            self.register_buffer("airlight", airlight.view(1, 3, 1, 1).clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        image_noise, transmission_noise = z.chunk(2, dim=1)
        image = self.image_net(image_noise)
        transmission = MIN_TRANSMISSION + (1.0 - MIN_TRANSMISSION) * self.transmission_net(transmission_noise)
        airlight = self.airlight.to(image.dtype).expand(image.shape[0], 3, *image.shape[-2:])
        return torch.cat([image, transmission.to(image.dtype), airlight], dim=1)


def unpack(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``J``, ``t`` and ``A`` (``(N, 3)``) from a :class:`DoubleDIP` output."""
    return output[:, :3], output[:, 3:4], output[:, 4:7, 0, 0]


class Dehazing(Task):
    """Double-DIP dehazing: a clear-image generator and a transmission generator explain the hazy photo."""

    name = "dehaze"
    help = "Double-DIP dehazing: J and t generators from arch documents, dark-channel airlight, guided filter"
    options = (
        Option("t_arch", str, None, "Architecture of the transmission generator (default: the same as --arch).",
               metavar="ARCH"),
        Option("airlight", str, "dcp", "Airlight: the dark-channel estimate, or that estimate refined.",
               choices=("dcp", "refine")),
        Option("tv_weight", float, 0.005, "Weight of the total-variation (smoothness) prior on t.", min=0, max=100),
        Option("beta", float, 1.2, "Haze density of synthetic haze (benchmarks, searches).", min=0, min_open=True,
               max=20),
        Option("max_side", int, 512, "Downscale photos whose longer side exceeds this.", min=16, max=16384),
        Option("guide_radius", int, 15, "Radius of the guided filter applied to the final t.", min=0, max=1000),
    )
    baseline_name = "hazy"
    default_arch = DIP_BASELINE
    packable = False  # two generators and an airlight in one model: fitted one by one
    #: Held-out hazy pixels rank candidates without a clean image: ``--arch auto`` chooses J's generator (t's
    #: follows ``--t-arch``, or the same architecture).
    no_reference_reward = "holdout"

    def settings(self) -> FitSettings:
        return FitSettings(iters=4000, lr=0.001, reg_noise=0.01)

    def _check_rgb(self, image: torch.Tensor, what: str) -> None:
        if image.shape[1] != 3:
            raise NasdipError(f"{what} has {image.shape[1]} channel(s); dehazing needs an RGB image")
        self.check_size(image, what)

    def degrade(self, clean: torch.Tensor, generator: torch.Generator, name: str = "image") -> Problem:
        self._check_rgb(clean, "the clean image")
        height, width = clean.shape[-2:]
        transmission = smooth_transmission(height, width, generator, self.values["beta"])
        airlight = 0.75 + 0.2 * torch.rand(1, 3, generator=generator)
        hazy = add_haze(clean, transmission, airlight)
        return Problem(hazy, (height, width), clean=clean, name=name)

    def observe(self, observation: torch.Tensor, info: ImageInfo | None = None, name: str = "image") -> Problem:
        self._check_rgb(observation, "the hazy image")
        height, width = observation.shape[-2:]
        scale = self.values["max_side"] / max(height, width)
        if scale < 1:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            observation = resize(observation, size, interpolation="bilinear", antialias=True).clamp(0, 1)
            self.check_size(observation, f"the hazy image downscaled to --max-side {self.values['max_side']}")
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)

    def build_model(self, arch, config, problem: Problem) -> nn.Module:
        config = config.replace(input_depth=INPUT_DEPTH)
        transmission_arch = resolve_arch(self.values["t_arch"]) if self.values["t_arch"] else arch
        airlight = estimate_airlight(problem.observation)[0]
        return DoubleDIP(build_network(arch, config.replace(out_channels=3)),
                         build_network(transmission_arch, config.replace(out_channels=1)),
                         airlight, refine=self.values["airlight"] == "refine")

    def residual(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        image, transmission, airlight = unpack(output)
        return add_haze(image, transmission, airlight) - problem.observation

    def regularizer(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        _, transmission, _ = unpack(output)
        return self.values["tv_weight"] * total_variation(transmission)

    def render(self, output: torch.Tensor, problem: Problem) -> torch.Tensor:
        return output[:, :3]

    def finalize(self, output: torch.Tensor, problem: Problem) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        _, transmission, airlight = unpack(output)
        refined = refine_transmission(transmission, problem.observation, self.values["guide_radius"])
        return recover_scene(problem.observation, refined, airlight), {"transmission": refined}
