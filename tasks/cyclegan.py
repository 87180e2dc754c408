"""CycleGAN (Zhu et al., ICCV 2017) for unpaired image translation, with the generator's upsampling from a cell.

Generator (ResNet): c7s1-ngf, two stride-2 downsamplings, ``blocks`` residual blocks, two x2 upsamplers, c7s1-3,
tanh; instance norm and ReLU. The upsamplers are CycleGAN's stride-2 transposed convolutions, or, given an
architecture, its upsampling cell (NAS-DIP's transfer experiment). Discriminator: the 70x70 PatchGAN.
Training: LSGAN losses, cycle consistency (weight ``cycle``), identity (``0.5 * cycle``), image pools of 50,
Adam(2e-4, betas 0.5/0.999), learning rate constant for the first half of the epochs then linearly to zero.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nasdip.nn.cell import Cell, build_cell


@dataclass(frozen=True)
class CycleGANConfig:
    """Sizes and weights of the model (stored in checkpoints)."""

    ngf: int = 64
    ndf: int = 64
    blocks: int = 9
    cycle: float = 10.0
    pool: int = 50
    lr: float = 2e-4
    crop: int = 256

    def to_dict(self) -> dict:
        return asdict(self)


def upsampler(cell: Cell | None, c_in: int, c_out: int) -> nn.Module:
    """A x2 upsampling ``c_in -> c_out``: CycleGAN's transposed convolution, or ``cell`` (followed by a 1x1
    convolution when the cell cannot change the channel count, i.e. has no transform)."""
    if cell is None:
        return nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    if cell.transform == "identity" and cell.spatial != "transposed_conv":
        return nn.Sequential(build_cell(cell, c_in, c_in), nn.Conv2d(c_in, c_out, 1))
    return build_cell(cell, c_in, c_out)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """CycleGAN's ResNet generator; images in [-1, 1], sides multiples of 4 (others are padded and cropped)."""

    def __init__(self, channels: int, config: CycleGANConfig, cell: Cell | None) -> None:
        super().__init__()
        g = config.ngf
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, g, 7), nn.InstanceNorm2d(g), nn.ReLU(True)]
        for factor in (1, 2):
            layers += [nn.Conv2d(g * factor, g * factor * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(g * factor * 2),
                       nn.ReLU(True)]
        layers += [ResidualBlock(4 * g) for _ in range(config.blocks)]
        for factor in (4, 2):
            layers += [upsampler(cell, g * factor, g * factor // 2), nn.InstanceNorm2d(g * factor // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(g, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % 4, -width % 4
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > 4 else "replicate")
        return self.model(x)[..., :height, :width]


class PatchDiscriminator(nn.Module):
    """The 70x70 PatchGAN: a map of real/fake scores."""

    def __init__(self, channels: int, ndf: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for stride in (2, 2, 1):
            layers += [nn.Conv2d(width, min(width * 2, 8 * ndf), 4, stride, 1), nn.InstanceNorm2d(min(width * 2, 8 * ndf)),
                       nn.LeakyReLU(0.2, True)]
            width = min(width * 2, 8 * ndf)
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def smallest_side(build: Callable[[], nn.Module], channels: int, training: bool = True, largest: int = 4096) -> int:
    """The smallest square image side the network ``build()`` makes runs on (in training or evaluation mode).

    Its stride-2 layers, instance or batch norms (which need more than one value) and reflection pads set it,
    that is its depth; it is found by running the network, built on the meta device, on sides 1, 2, ...: meta
    tensors check every shape but compute and allocate nothing (microseconds per try)."""
    with torch.device("meta"):
        network = build().train(training)
        for side in range(1, largest + 1):
            try:
                network(torch.empty(1, channels, side, side))
            except (RuntimeError, ValueError):  # a shape the network cannot take
                continue
            return side
    raise ValueError(f"the network runs on no image side up to {largest}")


def generator_min_side(channels: int, config: CycleGANConfig, cell: Cell | None, training: bool = True) -> int:
    """The smallest image side a generator of ``config`` (with ``cell``) translates."""
    return smallest_side(lambda: Generator(channels, config, cell), channels, training)


def discriminator_min_side(channels: int, config: CycleGANConfig) -> int:
    """The smallest image side the PatchGAN discriminator scores (three stride-2 and two 4x4 layers: 24)."""
    return smallest_side(lambda: PatchDiscriminator(channels, config.ndf), channels)


class ImagePool:
    """A history of generated images: with probability 1/2 the discriminator sees an older fake instead."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        self.images: list[torch.Tensor] = []

    def query(self, image: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return image
        if len(self.images) < self.size:
            self.images.append(image.detach().clone())
            return image
        if self.rng.random() < 0.5:
            index = self.rng.randrange(self.size)
            old, self.images[index] = self.images[index], image.detach().clone()
            return old
        return image


class CycleGAN(nn.Module):
    """Two generators, two discriminators and their training step."""

    def __init__(self, channels: int, config: CycleGANConfig, cell: Cell | None, rng: random.Random) -> None:
        super().__init__()
        self.config = config
        self.g_ab = Generator(channels, config, cell)
        self.g_ba = Generator(channels, config, cell)
        self.d_a = PatchDiscriminator(channels, config.ndf)
        self.d_b = PatchDiscriminator(channels, config.ndf)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam([*self.g_ab.parameters(), *self.g_ba.parameters()], lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam([*self.d_a.parameters(), *self.d_b.parameters()], lr=config.lr, betas=betas)
        self.pool_a = ImagePool(config.pool, rng)
        self.pool_b = ImagePool(config.pool, rng)

    @staticmethod
    def _gan(scores: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))

    def set_lr(self, lr: float) -> None:
        for optimizer in (self.opt_g, self.opt_d):
            for group in optimizer.param_groups:
                group["lr"] = lr

    def train_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generator and one discriminator update on a pair of unpaired batches in [-1, 1]."""
        cycle = self.config.cycle
        fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
        rec_a, rec_b = self.g_ba(fake_b), self.g_ab(fake_a)
        for discriminator in (self.d_a, self.d_b):
            discriminator.requires_grad_(False)
        loss_gan = self._gan(self.d_b(fake_b), True) + self._gan(self.d_a(fake_a), True)
        loss_cycle = cycle * (F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b))
        loss_identity = 0.5 * cycle * (F.l1_loss(self.g_ba(real_a), real_a) + F.l1_loss(self.g_ab(real_b), real_b))
        self.opt_g.zero_grad(set_to_none=True)
        (loss_gan + loss_cycle + loss_identity).backward()
        self.opt_g.step()
        for discriminator in (self.d_a, self.d_b):
            discriminator.requires_grad_(True)
        old_b, old_a = self.pool_b.query(fake_b.detach()), self.pool_a.query(fake_a.detach())
        loss_d = 0.5 * (self._gan(self.d_b(real_b), True) + self._gan(self.d_b(old_b), False)
                        + self._gan(self.d_a(real_a), True) + self._gan(self.d_a(old_a), False))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        images = {"real_a": real_a, "fake_b": fake_b, "rec_a": rec_a, "real_b": real_b, "fake_a": fake_a, "rec_b": rec_b}
        losses = {"g_gan": loss_gan, "cycle": loss_cycle, "identity": loss_identity, "d": loss_d}
        return {**{f"loss/{k}": v.detach() for k, v in losses.items()}, **{f"image/{k}": v.detach() for k, v in images.items()}}

    def checkpoint(self) -> dict:
        """Everything needed to resume training (the caller adds epoch and random states)."""
        return {"g_ab": self.g_ab.state_dict(), "g_ba": self.g_ba.state_dict(), "d_a": self.d_a.state_dict(),
                "d_b": self.d_b.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "pool_a": list(self.pool_a.images), "pool_b": list(self.pool_b.images)}

    def load_checkpoint(self, state: dict) -> None:
        for name in ("g_ab", "g_ba", "d_a", "d_b", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.pool_a.images, self.pool_b.images = list(state["pool_a"]), list(state["pool_b"])
