"""The haze model I = J t + A (1 - t), the dark channel, the guided filter and TV against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import minimum_filter, uniform_filter

from nasdip.io.images import load_image
from nasdip.ops.haze import (
    MIN_TRANSMISSION,
    add_haze,
    dark_channel,
    estimate_airlight,
    recover_scene,
    refine_transmission,
    smooth_transmission,
    total_variation,
)

#: ITU-R BT.601 luma weights (what kornia's rgb_to_grayscale uses).
LUMA = (0.299, 0.587, 0.114)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def scene():
    """Two clean images, their transmission maps and a different airlight for each."""
    generator = seeded(0)
    clean = torch.rand(2, 3, 8, 6, generator=generator)
    transmission = torch.rand(2, 1, 8, 6, generator=generator) * 0.9 + 0.1
    airlight = torch.tensor([[0.8, 0.85, 0.9], [0.6, 0.7, 0.5]])
    return clean, transmission, airlight


def test_add_haze_follows_the_scattering_model_pixel_by_pixel(scene):
    clean, t, airlight = scene
    hazy = add_haze(clean, t, airlight)
    expected = np.empty(clean.shape)
    for n, c, y, x in np.ndindex(*clean.shape):
        expected[n, c, y, x] = clean[n, c, y, x] * t[n, 0, y, x] + airlight[n, c] * (1 - t[n, 0, y, x])
    np.testing.assert_allclose(hazy.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_full_transmission_shows_the_scene_and_none_shows_the_airlight(scene):
    clean, _, airlight = scene
    torch.testing.assert_close(add_haze(clean, torch.ones(2, 1, 8, 6), airlight), clean)
    fog = add_haze(clean, torch.zeros(2, 1, 8, 6), airlight)
    torch.testing.assert_close(fog, airlight.view(2, 3, 1, 1).expand(2, 3, 8, 6))


def test_recover_scene_inverts_the_model_with_each_images_own_airlight(scene):
    clean, t, airlight = scene
    torch.testing.assert_close(recover_scene(add_haze(clean, t, airlight), t, airlight), clean)
    swapped = airlight.flip(0)
    assert not torch.allclose(recover_scene(add_haze(clean, t, airlight), t, swapped), clean, atol=1e-2)


def test_recover_scene_floors_the_transmission_and_clamps_the_result():
    hazy = torch.tensor([0.52, 0.50, 0.45]).view(1, 3, 1, 1)
    airlight = torch.tensor([[0.5, 0.5, 0.5]])
    recovered = recover_scene(hazy, torch.full((1, 1, 1, 1), 0.01), airlight)
    # (I - A) / max(t, 0.1) + A = (0.02, 0, -0.05) / 0.1 + 0.5 = (0.7, 0.5, 0.0)
    torch.testing.assert_close(recovered.flatten(), torch.tensor([0.7, 0.5, 0.0]))
    bright = recover_scene(torch.full((1, 3, 1, 1), 0.9), torch.full((1, 1, 1, 1), 0.2), airlight)
    assert torch.equal(bright, torch.ones(1, 3, 1, 1))  # (0.4 / 0.2) + 0.5 = 2.5, clamped to 1
    assert MIN_TRANSMISSION == 0.1


@pytest.mark.parametrize("patch", [1, 2, 3, 4, 5, 15])
def test_dark_channel_is_a_min_filter_over_colours_and_a_replicated_neighbourhood(patch):
    image = torch.rand(2, 3, 20, 24, generator=seeded(patch))
    expected = np.stack([minimum_filter(img.min(axis=0), size=patch, mode="nearest") for img in image.numpy()])
    dark = dark_channel(image, patch)
    assert dark.shape == (2, 1, 20, 24)
    np.testing.assert_array_equal(dark[:, 0].numpy(), expected)


def test_dark_channel_of_uniform_haze_is_an_affine_map_of_the_clean_one(shared_data):
    # With constant t and grey airlight a, min commutes with the model: dark(I) = t dark(J) + (1 - t) a.
    clean = load_image(shared_data / "sr" / "set5" / "butterfly.png")[0][..., 96:160, 96:160]
    hazy = add_haze(clean, torch.full((1, 1, 64, 64), 0.4), torch.full((1, 3), 0.9))
    torch.testing.assert_close(dark_channel(hazy, 7), 0.4 * dark_channel(clean, 7) + 0.6 * 0.9)
    assert dark_channel(hazy, 7).mean() > dark_channel(clean, 7).mean() + 0.3  # haze lifts the dark channel


def test_airlight_is_the_mean_colour_of_the_pixels_with_the_brightest_dark_channel():
    image = torch.rand(2, 3, 10, 10, generator=seeded(1)) * 0.3
    image[0, :, 2, 3] = torch.tensor([0.9, 0.8, 0.7])
    image[0, :, 7, 1] = torch.tensor([0.7, 0.8, 0.9])
    image[1, :, 5, 5] = torch.tensor([0.5, 0.6, 0.4])
    # patch 1: the dark channel is the per-pixel minimum; fraction 0.02 of 100 pixels takes the top two.
    airlight = estimate_airlight(image, patch=1, fraction=0.02)
    assert airlight.shape == (2, 3)
    torch.testing.assert_close(airlight[0], torch.tensor([0.8, 0.8, 0.8]))
    second = image[1].flatten(1)[:, image[1].min(dim=0).values.flatten().topk(2).indices].mean(dim=1)
    torch.testing.assert_close(airlight[1], second)


def test_airlight_with_an_even_patch_looks_up_pixels_that_exist():
    image = torch.rand(1, 3, 8, 8, generator=seeded(3))
    assert estimate_airlight(image, patch=4, fraction=0.5).shape == (1, 3)


def test_airlight_uses_at_least_one_pixel():
    image = torch.rand(1, 3, 10, 10, generator=seeded(2)) * 0.3
    image[0, :, 4, 4] = torch.tensor([0.95, 0.9, 0.85])
    torch.testing.assert_close(estimate_airlight(image, patch=1, fraction=1e-6), torch.tensor([[0.95, 0.9, 0.85]]))


def reference_guided_filter(guide: np.ndarray, source: np.ndarray, size: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide) with box means over reflected borders, written from the paper."""

    def mean(x):
        return uniform_filter(x, size=size, mode="mirror")

    mean_i, mean_p = mean(guide), mean(source)
    a = (mean(guide * source) - mean_i * mean_p) / (mean(guide * guide) - mean_i**2 + eps)
    b = mean_p - a * mean_i
    return mean(a) * guide + mean(b)


def test_refine_transmission_is_the_guided_filter_guided_by_luminance():
    generator = seeded(3)
    hazy = torch.rand(1, 3, 40, 36, generator=generator, dtype=torch.float64)
    t = torch.rand(1, 1, 40, 36, generator=generator, dtype=torch.float64) * 0.8 + 0.2
    guide = sum(w * hazy[0, c].numpy() for c, w in enumerate(LUMA))
    expected = reference_guided_filter(guide, t[0, 0].numpy(), size=9, eps=1e-2).clip(0.1, 1.0)
    refined = refine_transmission(t, hazy, radius=4, eps=1e-2)
    np.testing.assert_allclose(refined[0, 0].numpy(), expected, atol=1e-6)


def test_refine_transmission_with_a_grey_image_uses_it_as_the_guide():
    generator = seeded(4)
    grey = torch.rand(1, 1, 32, 32, generator=generator, dtype=torch.float64)
    t = torch.rand(1, 1, 32, 32, generator=generator, dtype=torch.float64) * 0.8 + 0.2
    expected = reference_guided_filter(grey[0, 0].numpy(), t[0, 0].numpy(), size=7, eps=1e-3).clip(0.1, 1.0)
    np.testing.assert_allclose(refine_transmission(t, grey, radius=3)[0, 0].numpy(), expected, atol=1e-6)


def test_refine_transmission_keeps_edges_the_hazy_image_shows():
    hazy = torch.full((1, 3, 32, 32), 0.2)
    hazy[..., 16:] = 0.8
    clean_t = torch.full((1, 1, 32, 32), 0.3)
    clean_t[..., 16:] = 0.9
    noisy_t = clean_t + 0.05 * torch.randn(clean_t.shape, generator=seeded(5))
    refined = refine_transmission(noisy_t, hazy, radius=4, eps=1e-3)
    assert (refined[..., 15] - 0.3).abs().max() < 0.05 and (refined[..., 16] - 0.9).abs().max() < 0.05
    assert (refined - clean_t).abs().mean() < 0.5 * (noisy_t - clean_t).abs().mean()  # and removes noise


@pytest.mark.parametrize(("side", "filtered"), [(31, False), (32, True)])
def test_refine_transmission_only_clamps_images_no_larger_than_the_window(side, filtered):
    generator = seeded(6)
    t = torch.rand(1, 1, side, side + 8, generator=generator) * 1.2 - 0.1
    hazy = torch.rand(1, 3, side, side + 8, generator=generator)
    refined = refine_transmission(t, hazy, radius=15)
    assert refined.min() >= MIN_TRANSMISSION and refined.max() <= 1.0
    assert torch.equal(refined, t.clamp(MIN_TRANSMISSION, 1.0)) == (not filtered)


def test_smooth_transmission_is_in_range_and_seeded():
    t = smooth_transmission(24, 32, seeded(7))
    assert t.shape == (1, 1, 24, 32)
    assert t.min() >= MIN_TRANSMISSION and t.max() <= 1.0
    assert torch.equal(t, smooth_transmission(24, 32, seeded(7)))
    assert not torch.equal(t, smooth_transmission(24, 32, seeded(8)))


def test_smooth_transmission_is_hazier_towards_the_horizon_and_with_a_larger_beta():
    t = smooth_transmission(32, 32, seeded(9))
    assert t[..., 0, :].mean() < t[..., -1, :].mean()  # depth grows towards the top
    thick = smooth_transmission(32, 32, seeded(9), beta=2.5)
    assert (thick <= t).all() and thick.mean() < t.mean()


def test_smooth_transmission_is_smooth():
    t = smooth_transmission(32, 32, seeded(10))
    assert total_variation(t) < 0.1 * total_variation(torch.rand(1, 1, 32, 32, generator=seeded(10)))


def test_total_variation_by_hand():
    image = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).view(1, 1, 2, 2)
    # vertical |2 - 0|, |4 - 1| -> mean 2.5; horizontal |1 - 0|, |4 - 2| -> mean 1.5
    assert total_variation(image).item() == pytest.approx(4.0)
    assert total_variation(torch.full((2, 3, 5, 5), 0.7)).item() == 0.0
