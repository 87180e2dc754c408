"""Problems from images: the built-in photo, a user's observation, folders of clean images degraded by a task.

Every synthetic degradation draws from :func:`degradation_generator`; the ``index``-th clean image of a set is
degraded with seed ``seed + 1000 * index``, so every architecture (and every run with that seed) sees the same
observations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from nasdip.errors import NasdipError, UsageError
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
T = TypeVar("T")


def degradation_generator(seed: int) -> torch.Generator:
    """The CPU generator that draws degradations (noise, masks) for ``seed``."""
    return torch.Generator().manual_seed(seed)


def check_crop(task: Task, crop: int | None, flag: str = "--crop") -> None:
    """Refuse a crop side below the task's minimum image side (:meth:`Task.min_input_size`) as a usage error
    naming the smallest crop that works, before any image is read or fitted."""
    smallest = task.min_input_size()
    if crop is not None and crop < smallest:
        raise UsageError(f"{flag} {crop} is too small for task {task.describe()}: it needs at least {smallest}x"
                         f"{smallest} pixels ({task.size_reason()}); use {flag} {smallest} or larger")


def named(label: str, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``; a one-line error it raises about an image is prefixed by ``label``, the image's
    name (unless it names it already)."""
    try:
        return call(*args, **kwargs)
    except NasdipError as error:
        if str(error).startswith(label):
            raise
        raise type(error)(f"{label}: {error}") from None


def degrade_one(task: Task, name: str, clean: torch.Tensor, seed: int) -> Problem:
    """One named clean image prepared and degraded by ``task`` with ``seed``; a refusal (too small, ...) names it."""
    prepared = named(name, task.prepare_clean, clean)
    return named(name, task.degrade, prepared, degradation_generator(seed), name=name)


def degrade_set(task: Task, cleans: Sequence[NamedImage], seed: int) -> list[Problem]:
    """Each named clean image prepared and degraded by ``task`` with its own seed (see the module's doc); an image
    the task refuses (too small, ...) is named in the one-line error."""
    return [degrade_one(task, name, clean, seed + SEED_STRIDE * index) for index, (name, clean) in enumerate(cleans)]


def folder_images(directory: Path, crop: int | None) -> list[NamedImage]:
    """Every image in ``directory``, centre-cropped to ``crop``, named by its file stem."""
    return [(path.stem, crop_square(load_image(path)[0], crop)) for path in list_images(directory)]


def observed_set(task: Task, directory: Path, crop: int | None) -> list[Problem]:
    """Every image in ``directory`` as an observation the task wraps (no clean version), centre-cropped so that
    its restoration is about ``crop`` pixels on a side."""
    problems = []
    for path in list_images(directory):
        observation, info = load_image(path)
        problem = named(str(path), task.observe, observation, info, name=path.stem)
        if crop is not None:
            factor = problem.output_size[0] / observation.shape[-2]
            side = max(1, round(crop / factor))
            problem = named(str(path), task.observe, crop_square(observation, side), info, name=path.stem)
        problems.append(problem)
    return problems


def builtin_problem(task: Task, seed: int, crop: int | None = None) -> Problem:
    """The built-in photograph, centre-cropped and degraded by ``task``; its clean original is the truth. A crop
    below the task's minimum size is a usage error naming the smallest that works."""
    check_crop(task, crop)
    photo, _ = builtin_photo()
    clean = task.prepare_clean(crop_square(photo, crop or BUILTIN_CROP))
    problem = task.degrade(clean, degradation_generator(seed), name=BUILTIN_NAME)
    return replace(problem, info=ImageInfo(None, clean.shape[1], 8))


def user_problem(task: Task, image: Path, ground_truth: Path | None = None) -> Problem:
    """A degraded image the user has (and optionally its ground truth, which must match the restoration)."""
    observation, info = load_image(image)
    problem = named(str(image), task.observe, observation, info, name=Path(image).stem)
    if ground_truth is None:
        return problem
    clean, _ = load_image(ground_truth)
    check_ground_truth(clean, problem, ground_truth)
    return replace(problem, clean=clean)
