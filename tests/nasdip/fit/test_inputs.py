"""Problems from images: seeded degradations (each image of a set with its own seed), folders of clean images and
of observations, the built-in photo, and a user's image with its ground truth (``--gt``)."""

from __future__ import annotations

import re

import pytest
import torch

from nasdip import registry
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import (
    BUILTIN_CROP,
    SEED_STRIDE,
    builtin_problem,
    check_crop,
    degradation_generator,
    degrade_set,
    folder_images,
    named,
    observed_set,
    user_problem,
)
from nasdip.io.builtin import BUILTIN_NAME, builtin_photo
from nasdip.io.crops import crop_square
from nasdip.io.images import ImageInfo, load_image, save_image


def quantised(*shape: int, seed: int = 0) -> torch.Tensor:
    """A random image whose values survive an 8-bit file exactly."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=generator).float() / 255


@pytest.fixture
def denoise():
    return registry.get("tasks", "denoise")()


@pytest.fixture
def sr2():
    return registry.get("tasks", "sr")(scale=2)


def test_degradation_generator_is_a_cpu_generator_seeded_with_the_seed():
    generator = degradation_generator(42)
    assert generator.device == torch.device("cpu")
    expected = torch.randn(100, generator=torch.Generator().manual_seed(42))
    assert torch.equal(torch.randn(100, generator=generator), expected)
    assert torch.equal(torch.randn(100, generator=degradation_generator(42)), expected)
    assert not torch.equal(torch.randn(100, generator=degradation_generator(43)), expected)


def test_degrade_set_seeds_each_image_with_seed_plus_1000_times_its_index(denoise):
    cleans = [(f"image{i}", quantised(1, 3, 16, 16, seed=i)) for i in range(3)]
    problems = degrade_set(denoise, cleans, seed=5)
    assert SEED_STRIDE == 1000 and [p.name for p in problems] == ["image0", "image1", "image2"]
    for index, ((name, clean), problem) in enumerate(zip(cleans, problems, strict=True)):
        expected = denoise.degrade(clean, torch.Generator().manual_seed(5 + 1000 * index), name=name)
        assert torch.equal(problem.observation, expected.observation)
        assert torch.equal(problem.clean, clean)


def test_the_same_image_gets_other_noise_at_another_index(denoise):
    clean = quantised(1, 3, 16, 16)
    first, second = degrade_set(denoise, [("a", clean), ("b", clean)], seed=0)
    assert not torch.equal(first.observation, second.observation)
    # Index 1 with seed 0 is index 0 with seed 1000.
    assert torch.equal(second.observation, degrade_set(denoise, [("b", clean)], seed=1000)[0].observation)


def test_an_image_is_degraded_alike_whatever_follows_it(denoise):
    clean, other = quantised(1, 3, 16, 16, seed=1), quantised(1, 3, 16, 16, seed=2)
    alone = degrade_set(denoise, [("a", clean)], seed=3)[0]
    in_a_set = degrade_set(denoise, [("a", clean), ("o", other)], seed=3)[0]
    assert torch.equal(alone.observation, in_a_set.observation)


def test_degrade_set_prepares_each_clean_image(shared_data):
    # Super-resolution crops clean images to a multiple of 32 before degrading them.
    task = registry.get("tasks", "sr")(scale=4)
    problems = degrade_set(task, folder_images(shared_data / "denoise", crop=70), seed=0)
    assert [p.name for p in problems] == ["F16", "House", "Peppers"]
    for problem in problems:
        assert problem.clean.shape == (1, 3, 64, 64) and problem.observation.shape == (1, 3, 16, 16)


def test_folder_images_are_centre_crops_named_by_their_stems(shared_data):
    images = folder_images(shared_data / "denoise", crop=32)
    assert [name for name, _ in images] == ["F16", "House", "Peppers"]
    for name, image in images:
        full, _ = load_image(shared_data / "denoise" / f"{name}.png")
        top, left = (full.shape[-2] - 32) // 2, (full.shape[-1] - 32) // 2
        assert torch.equal(image, full[..., top : top + 32, left : left + 32])


def test_folder_images_skip_other_files_and_cap_the_crop(tmp_path):
    wide, small = quantised(1, 1, 20, 30, seed=1), quantised(1, 3, 12, 12, seed=2)
    save_image(tmp_path / "b_wide.png", wide)
    save_image(tmp_path / "a_small.png", small)
    (tmp_path / "notes.txt").write_text("not an image")
    images = folder_images(tmp_path, crop=16)
    assert [name for name, _ in images] == ["a_small", "b_wide"]
    assert torch.equal(images[0][1], small)  # smaller than the crop: whole
    assert torch.equal(images[1][1], wide[..., 2:18, 7:23])
    whole = folder_images(tmp_path, crop=None)
    assert torch.equal(whole[1][1], wide)


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(NasdipError, match=re.escape(f"{tmp_path}: no images (.png, .jpg")):
        folder_images(tmp_path, crop=None)


def test_observed_set_crops_so_that_the_restoration_is_about_crop_pixels(shared_data):
    task = registry.get("tasks", "sr")(scale=4)
    (problem,) = observed_set(task, shared_data / "blind", crop=30)  # snail.jpg, 400x261
    full, _ = load_image(shared_data / "blind" / "snail.jpg")
    assert problem.name == "snail" and problem.clean is None
    assert problem.output_size == (32, 32)  # 30 / 4 rounds to an 8-pixel observation
    assert torch.equal(problem.observation, crop_square(full, 8))
    assert problem.info == ImageInfo(str(shared_data / "blind" / "snail.jpg"), 3, 8)


def test_observed_set_without_crop_keeps_whole_observations(denoise, tmp_path):
    first, second = quantised(1, 3, 24, 20, seed=3), quantised(1, 3, 16, 16, seed=4)
    save_image(tmp_path / "one.png", first)
    save_image(tmp_path / "two.png", second)
    problems = observed_set(denoise, tmp_path, crop=None)
    assert [(p.name, p.output_size) for p in problems] == [("one", (24, 20)), ("two", (16, 16))]
    assert torch.equal(problems[0].observation, first) and torch.equal(problems[1].observation, second)
    cropped = observed_set(denoise, tmp_path, crop=12)
    assert torch.equal(cropped[0].observation, first[..., 6:18, 4:16]) and cropped[0].output_size == (12, 12)


def test_builtin_problem_is_the_degraded_centre_of_the_photo(denoise):
    problem = builtin_problem(denoise, seed=3, crop=32)
    clean = crop_square(builtin_photo()[0], 32)
    assert torch.equal(problem.clean, clean)
    expected = denoise.degrade(clean, torch.Generator().manual_seed(3))
    assert torch.equal(problem.observation, expected.observation)
    assert problem.name == BUILTIN_NAME == "grace_hopper"
    assert problem.info == ImageInfo(None, 3, 8)


def test_builtin_problem_is_deterministic_per_seed(denoise):
    first, again = builtin_problem(denoise, seed=0, crop=32), builtin_problem(denoise, seed=0, crop=32)
    other = builtin_problem(denoise, seed=1, crop=32)
    assert torch.equal(first.observation, again.observation)
    assert not torch.equal(first.observation, other.observation) and torch.equal(first.clean, other.clean)


def test_builtin_problem_crops_128_pixels_by_default(denoise, sr2):
    assert BUILTIN_CROP == 128
    assert builtin_problem(denoise, seed=0).observation.shape == (1, 3, 128, 128)
    problem = builtin_problem(sr2, seed=0, crop=48)
    assert problem.clean.shape == (1, 3, 48, 48) and problem.observation.shape == (1, 3, 24, 24)


def test_user_problem_wraps_the_observation(denoise, tmp_path):
    observation = quantised(1, 3, 16, 20, seed=5)
    path = save_image(tmp_path / "noisy.png", observation)
    problem = user_problem(denoise, path)
    assert torch.equal(problem.observation, observation) and problem.clean is None
    assert problem.name == "noisy" and problem.output_size == (16, 20)
    assert problem.info == ImageInfo(str(path), 3, 8)


def test_user_problem_with_a_ground_truth_scores_against_it(sr2, tmp_path):
    observation, truth = quantised(1, 3, 12, 16, seed=6), quantised(1, 3, 24, 32, seed=7)
    image = save_image(tmp_path / "low.png", observation)
    gt = save_image(tmp_path / "high.png", truth)
    problem = user_problem(sr2, image, gt)
    assert torch.equal(problem.clean, truth) and torch.equal(problem.observation, observation)
    assert problem.output_size == (24, 32) and problem.name == "low"


def test_user_problem_with_a_real_ground_truth(denoise, shared_data):
    image = shared_data / "denoise" / "House.png"
    problem = user_problem(denoise, image, ground_truth=image)
    assert torch.equal(problem.clean, problem.observation) and problem.name == "House"


def test_a_ground_truth_of_another_size_is_refused(sr2, tmp_path):
    image = save_image(tmp_path / "low.png", quantised(1, 3, 12, 12))
    gt = save_image(tmp_path / "high.png", quantised(1, 3, 20, 24))
    message = f"{gt}: ground truth is 24x20 but the restoration is 24x24; give the ground truth at exactly that size"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        user_problem(sr2, image, gt)


def test_a_ground_truth_with_other_channels_is_refused(denoise, tmp_path):
    image = save_image(tmp_path / "noisy.png", quantised(1, 3, 16, 16))
    gt = save_image(tmp_path / "grey.png", quantised(1, 1, 16, 16))
    with pytest.raises(NasdipError, match=f"^{re.escape(f'{gt}: has 1 channels but the image has 3')}$"):
        user_problem(denoise, image, gt)


@pytest.mark.parametrize(("task", "crop", "smallest"), [("denoise", 10, 11), ("sr2", 15, 16)])
def test_a_builtin_crop_below_the_tasks_minimum_is_a_usage_error(task, crop, smallest, request):
    task = request.getfixturevalue(task)
    with pytest.raises(UsageError, match=rf"^--crop {crop} is too small for task {re.escape(task.describe())}: it "
                                         rf"needs at least {smallest}x{smallest} pixels \(.*\); use --crop "
                                         rf"{smallest} or larger$"):
        builtin_problem(task, seed=0, crop=crop)
    problem = builtin_problem(task, seed=0, crop=smallest)  # the smallest crop named works
    assert problem.clean.shape[-2:] == (smallest, smallest)


def test_check_crop_names_the_flag_and_accepts_no_crop(denoise):
    check_crop(denoise, None)
    check_crop(denoise, 11, "--ladder-crops")
    with pytest.raises(UsageError, match=r"^--ladder-crops 4 is too small .*; use --ladder-crops 11 or larger$"):
        check_crop(denoise, 4, "--ladder-crops")


def test_a_refused_image_of_a_set_is_named(denoise):
    cleans = [("fine", quantised(1, 3, 16, 16)), ("small", quantised(1, 3, 9, 16))]
    with pytest.raises(NasdipError, match=r"^small: image is 16x9; task 'denoise' needs at least 11x11 pixels"):
        degrade_set(denoise, cleans, seed=0)


def test_a_users_image_below_the_minimum_is_refused_naming_the_file(denoise, tmp_path):
    save_image(tmp_path / "small.png", quantised(1, 3, 10, 30))
    with pytest.raises(NasdipError, match=rf"^{re.escape(str(tmp_path / 'small.png'))}: image is 30x10; task "
                                          r"'denoise' needs at least 11x11 pixels"):
        user_problem(denoise, tmp_path / "small.png")
    save_image(tmp_path / "enough.png", quantised(1, 3, 11, 30))
    assert user_problem(denoise, tmp_path / "enough.png").output_size == (11, 30)


def test_observed_images_below_the_minimum_are_refused_naming_the_file(sr2, tmp_path):
    save_image(tmp_path / "low.png", quantised(1, 3, 7, 7))
    with pytest.raises(NasdipError, match=r"low\.png: the low-resolution image is 7x7; task 'sr' needs at least 8x8"):
        observed_set(sr2, tmp_path, crop=None)


def test_named_keeps_a_message_that_names_the_image_already():
    def refuse():
        raise NasdipError("photo.png: no such image file")

    with pytest.raises(NasdipError, match=r"^photo\.png: no such image file$"):
        named("photo.png", refuse)
    with pytest.raises(NasdipError, match=r"^other\.png: photo\.png: no such image file$"):
        named("other.png", refuse)
