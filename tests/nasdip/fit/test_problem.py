"""``--gt`` must match the restoration exactly: no silent crop."""

from __future__ import annotations

import pytest
import torch

from nasdip import registry
from nasdip.errors import NasdipError
from nasdip.fit.problem import check_ground_truth


def sr_problem(height: int, width: int, scale: int = 4):
    return registry.get("tasks", "sr")(scale=scale).observe(torch.rand(1, 3, height, width))


def test_the_exact_size_passes():
    check_ground_truth(torch.rand(1, 3, 64, 96), sr_problem(16, 24), "hr.png")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((1, 3, 72, 96), "hr.png: ground truth is 96x72 but the restoration is 96x64; give the ground truth at "
                         "exactly that size"),
        ((1, 3, 64, 100), "hr.png: ground truth is 100x64 but the restoration is 96x64; give the ground truth at "
                          "exactly that size"),
        ((1, 3, 32, 48), "hr.png: ground truth is 48x32 but the restoration is 96x64; give the ground truth at "
                         "exactly that size"),
        ((1, 1, 64, 96), "hr.png: has 1 channels but the image has 3"),
    ],
)
def test_a_mismatched_ground_truth_is_refused(shape, message):
    with pytest.raises(NasdipError) as caught:
        check_ground_truth(torch.rand(shape), sr_problem(16, 24), "hr.png")
    assert str(caught.value) == message
