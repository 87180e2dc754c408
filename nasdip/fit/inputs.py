"""Problems from images: the built-in photo, a user's observation, folders of clean images degraded by a task.

Every synthetic degradation draws from :func:`degradation_generator`; the ``index``-th clean image of a set is
degraded with seed ``seed + 1000 * index``, so every architecture (and every run with that seed) sees the same
observations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from nasdip.fit.problem import Problem, check_ground_truth
from nasdip.fit.task import Task
from nasdip.io.builtin import BUILTIN_NAME, builtin_photo
from nasdip.io.crops import crop_square
from nasdip.io.images import ImageInfo, list_images, load_image

#: Side of the centre crop of the built-in photo when ``--crop`` is not given (small enough for a CPU).
BUILTIN_CROP = 128
#: Seed offset between consecutive images of a set.
SEED_STRIDE = 1000

NamedImage = tuple[str, torch.Tensor]


def degradation_generator(seed: int) -> torch.Generator:
    """The CPU generator that draws degradations (noise, masks) for ``seed``."""
    return torch.Generator().manual_seed(seed)


def degrade_set(task: Task, cleans: Sequence[NamedImage], seed: int) -> list[Problem]:
    """Each named clean image prepared and degraded by ``task`` with its own seed (see the module's doc)."""
    return [task.degrade(task.prepare_clean(clean), degradation_generator(seed + SEED_STRIDE * index), name=name)
            for index, (name, clean) in enumerate(cleans)]


def folder_images(directory: Path, crop: int | None) -> list[NamedImage]:
    """Every image in ``directory``, centre-cropped to ``crop``, named by its file stem."""
    return [(path.stem, crop_square(load_image(path)[0], crop)) for path in list_images(directory)]


def observed_set(task: Task, directory: Path, crop: int | None) -> list[Problem]:
    """Every image in ``directory`` as an observation the task wraps (no clean version), centre-cropped so that
    its restoration is about ``crop`` pixels on a side."""
    problems = []
    for path in list_images(directory):
        observation, info = load_image(path)
        problem = task.observe(observation, info, name=path.stem)
        if crop is not None:
            factor = problem.output_size[0] / observation.shape[-2]
            side = max(1, round(crop / factor))
            problem = task.observe(crop_square(observation, side), info, name=path.stem)
        problems.append(problem)
    return problems


def builtin_problem(task: Task, seed: int, crop: int | None = None) -> Problem:
    """The built-in photograph, centre-cropped and degraded by ``task``; its clean original is the truth."""
    photo, _ = builtin_photo()
    clean = task.prepare_clean(crop_square(photo, crop or BUILTIN_CROP))
    problem = task.degrade(clean, degradation_generator(seed), name=BUILTIN_NAME)
    return replace(problem, info=ImageInfo(None, clean.shape[1], 8))


def user_problem(task: Task, image: Path, ground_truth: Path | None = None) -> Problem:
    """A degraded image the user has (and optionally its ground truth, which must match the restoration)."""
    observation, info = load_image(image)
    problem = task.observe(observation, info, name=Path(image).stem)
    if ground_truth is None:
        return problem
    clean, _ = load_image(ground_truth)
    check_ground_truth(clean, problem, ground_truth)
    return replace(problem, clean=clean)
