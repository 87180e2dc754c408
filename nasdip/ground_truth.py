"""A user's ground truth (``--gt``) must match the restoration it scores exactly: it is never cropped to fit."""

from __future__ import annotations

from pathlib import Path

import torch

from nasdip.errors import NasdipError
from nasdip.task import Problem


def check_ground_truth(clean: torch.Tensor, problem: Problem, source: str | Path) -> None:
    """Refuse, in one line naming ``source`` (the file), a ground truth whose channels or size differ from the restoration's.

    The restoration has the observation's channels and ``problem.output_size`` (for super-resolution, the image
    times the scale); a ground truth of any other size would be scored after a silent crop or not at all.
    """
    name = str(source)
    if clean.shape[1] != problem.channels:
        raise NasdipError(f"{name}: has {clean.shape[1]} channels but the image has {problem.channels}")
    height, width = problem.output_size
    if tuple(clean.shape[-2:]) != (height, width):
        raise NasdipError(
            f"{name}: ground truth is {clean.shape[-1]}x{clean.shape[-2]} but the restoration is {width}x{height}; "
            f"give the ground truth at exactly that size"
        )
