"""Unpaired training images: a folder per domain, served as random flipped crops in [-1, 1]."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from kornia.geometry.transform import resize

from nasdip.io.images import list_images, load_image


class Domain:
    """The images of one domain, loaded on first use, served as random crops in [-1, 1]."""

    def __init__(self, directory: Path, channels: int | None = None) -> None:
        self.paths = list_images(directory)
        self.cache: dict[int, torch.Tensor] = {}
        self.channels = channels or self.load(0).shape[1]

    def load(self, index: int) -> torch.Tensor:
        if index not in self.cache:
            self.cache[index] = load_image(self.paths[index])[0]
        return self.cache[index]

    def crop(self, index: int, side: int, rng: random.Random) -> torch.Tensor:
        return random_crop(match_channels(self.load(index), self.channels), side, rng)


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey -> RGB by repetition, RGB -> grey by averaging."""
    if image.shape[1] == channels:
        return image
    return image.expand(-1, channels, -1, -1) if channels == 3 else image.mean(dim=1, keepdim=True)


def random_crop(image: torch.Tensor, side: int, rng: random.Random) -> torch.Tensor:
    """A random ``side x side`` crop (the image is upscaled first if smaller), flipped with probability 1/2,
    scaled to [-1, 1]."""
    height, width = image.shape[-2:]
    if min(height, width) < side:
        scale = side / min(height, width)
        image = resize(image, (max(side, round(height * scale)), max(side, round(width * scale))), antialias=True)
        height, width = image.shape[-2:]
    top, left = rng.randrange(height - side + 1), rng.randrange(width - side + 1)
    crop = image[..., top : top + side, left : left + side]
    if rng.random() < 0.5:
        crop = crop.flip(-1)
    return crop * 2.0 - 1.0
