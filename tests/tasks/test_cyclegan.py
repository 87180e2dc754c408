"""CycleGAN's networks: the smallest image sides they run on, found on the meta device, agree with real runs."""

from __future__ import annotations

import pytest
import torch

from nasdip.nn.cell import Cell
from nasdip.tasks.cyclegan import (
    CycleGANConfig,
    Generator,
    PatchDiscriminator,
    discriminator_min_side,
    generator_min_side,
    smallest_side,
)

SMALL = CycleGANConfig(ngf=4, ndf=4, blocks=1)


def test_the_discriminator_needs_24_pixels_whatever_its_width():
    # Three stride-2 4x4 convolutions (side / 8), then two stride-1 4x4 ones (-1 each) with instance norms that need
    # more than one value: 24 / 8 - 1 = 2 is the first side that keeps two values before the last layer.
    assert discriminator_min_side(3, SMALL) == discriminator_min_side(3, CycleGANConfig(ndf=64)) == 24


@pytest.mark.parametrize("cell", [None, Cell.from_release_index(119)])
def test_the_generator_needs_5_pixels(cell):
    # Padded to a multiple of 4 (8), two stride-2 layers leave 2x2 for the instance norms and residual pads.
    assert generator_min_side(3, SMALL, cell) == generator_min_side(3, SMALL, cell, training=False) == 5


@pytest.mark.parametrize(("side", "works"), [(4, False), (5, True)])
def test_the_generators_smallest_side_matches_a_real_run(side, works):
    generator = Generator(3, SMALL, None).eval()
    with torch.no_grad():
        if works:
            assert generator(torch.zeros(1, 3, side, side)).shape == (1, 3, side, side)
        else:
            with pytest.raises((RuntimeError, ValueError)):
                generator(torch.zeros(1, 3, side, side))


@pytest.mark.parametrize(("side", "works"), [(23, False), (24, True)])
def test_the_discriminators_smallest_side_matches_a_real_run(side, works):
    discriminator = PatchDiscriminator(3, 4)
    if works:
        assert discriminator(torch.zeros(1, 3, side, side)).shape[-2:] == (1, 1)
    else:
        with pytest.raises((RuntimeError, ValueError)):
            discriminator(torch.zeros(1, 3, side, side))


def test_a_network_that_runs_on_no_side_is_an_error():
    with pytest.raises(ValueError, match="runs on no image side up to 8"):
        smallest_side(lambda: torch.nn.Conv2d(3, 3, 9), 3, largest=8)
