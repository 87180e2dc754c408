"""Inpainting masks: Bernoulli drop-out statistics within sample-size tolerances, seeding, applying a mask."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch

from nasdip.ops import apply_mask, bernoulli_mask

#: Tolerances are this many standard errors of the statistic at the sample size used.
Z = 5.0
SIDE = 64


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_mask_is_a_binary_single_channel_float_image():
    mask = bernoulli_mask(12, 20, 0.5, seeded(0))
    assert mask.shape == (1, 1, 12, 20) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("drop", [0.1, 0.5, 0.9])
def test_the_kept_fraction_is_one_minus_drop(drop):
    mask = bernoulli_mask(SIDE, SIDE, drop, seeded(1))
    n, keep = mask.numel(), 1 - drop
    assert mask.mean().item() == pytest.approx(keep, abs=Z * math.sqrt(keep * (1 - keep) / n))


def test_pixels_are_dropped_independently_of_their_neighbours():
    mask = bernoulli_mask(SIDE, SIDE, 0.5, seeded(2))[0, 0]
    both = (mask[:, :-1] * mask[:, 1:]).mean().item()  # P(both kept) = 0.25 for independent pixels
    pairs = mask[:, :-1].numel()
    assert both == pytest.approx(0.25, abs=Z * math.sqrt(0.25 * 0.75 / pairs))


def test_drop_zero_keeps_every_pixel():
    assert bernoulli_mask(SIDE, SIDE, 0.0, seeded(3)).min() == 1


def test_a_seeded_generator_reproduces_the_mask_and_another_seed_does_not():
    first = bernoulli_mask(32, 32, 0.5, seeded(4))
    assert torch.equal(first, bernoulli_mask(32, 32, 0.5, seeded(4)))
    assert not torch.equal(first, bernoulli_mask(32, 32, 0.5, seeded(5)))


def test_with_one_seed_a_larger_drop_removes_a_superset_of_pixels():
    masks = [bernoulli_mask(32, 32, drop, seeded(6)) for drop in (0.2, 0.5, 0.8)]
    for lighter, heavier in pairwise(masks):
        assert (heavier <= lighter).all() and heavier.sum() < lighter.sum()


@pytest.mark.parametrize("drop", [-0.1, 1.0, 1.5, float("nan")])
def test_drop_outside_zero_to_one_is_refused(drop):
    with pytest.raises(ValueError, match=rf"^drop must be in \[0, 1\), got {drop}$"):
        bernoulli_mask(4, 4, drop)


def test_apply_mask_zeroes_missing_pixels_and_keeps_known_ones_in_every_channel():
    image = torch.rand(2, 3, 16, 16) + 0.1  # no pixel is zero before masking
    mask = bernoulli_mask(16, 16, 0.5, seeded(7))
    masked = apply_mask(image, mask)
    assert masked.shape == image.shape
    known = mask[0, 0].bool()
    assert torch.equal(masked[..., known], image[..., known])
    assert (masked[..., ~known] == 0).all()


def test_apply_mask_accepts_a_per_channel_mask():
    image = torch.rand(1, 3, 4, 4)
    mask = torch.zeros(1, 3, 4, 4)
    mask[:, 1] = 1
    masked = apply_mask(image, mask)
    assert torch.equal(masked[:, 1], image[:, 1]) and (masked[:, [0, 2]] == 0).all()
