"""Tiled restoration: windows that cover the image, ramps whose blend weights sum to 1, crops of every
output-sized tensor, and a blend that puts the pieces back together exactly."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.errors import NasdipError
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitResult
from nasdip.fit.settings import FitSettings
from nasdip.fit.tiling import Window, ramp, restore_tiled, tile_count, tile_starts, windows
from nasdip.nn.config import NetConfig

CPU = FitSettings(device="cpu", precision="fp32")


def random(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def total_weight(problem: Problem, tile: int) -> torch.Tensor:
    """The sum of every window's blend weights over the output, as ``restore_tiled`` accumulates them."""
    total = torch.zeros(1, 1, *problem.output_size)
    for window in windows(problem, tile, "test"):
        total[window.output_slice] += window.blend(tile // 8, tuple(problem.observation.shape[-2:]))
    return total


class Echo:
    """A stand-in for ``task.fit``: restores a window as its ground truth plus ``offset`` (and an extra image),
    with made-up bookkeeping; records what it was asked."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self.requests: list[FitRequest] = []

    def __call__(self, request: FitRequest) -> FitResult:
        self.requests.append(request)
        index = len(self.requests)
        clean = request.problem.clean
        return FitResult(output=clean + self.offset, metrics={}, losses=[1.0], scores=[1.0], iters=10 + index,
                         seconds=0.5, rollbacks=index % 2, settings=request.settings, device=f"cpu:{index}",
                         precision="fp32", extras={"grey": clean.mean(dim=1, keepdim=True)})


def test_tile_starts_cover_everything():
    assert tile_starts(100, 40, 5) == [0, 35, 60]
    assert tile_starts(30, 40, 5) == [0]
    for length in (64, 97, 150):
        starts = tile_starts(length, 32, 4)
        assert starts[0] == 0 and starts[-1] + 32 == length and all(b - a <= 28 for a, b in itertools.pairwise(starts))


def test_an_image_of_the_tile_size_is_one_window():
    assert tile_starts(40, 40, 5) == [0]


def test_an_overlap_as_large_as_the_tile_steps_by_one_pixel():
    assert tile_starts(10, 4, 4) == [0, 1, 2, 3, 4, 5, 6]
    assert tile_starts(10, 4, 9) == [0, 1, 2, 3, 4, 5, 6]


def test_consecutive_windows_overlap_by_at_least_the_overlap():
    for length, tile, overlap in itertools.product((33, 50, 77, 128), (16, 24), (2, 3)):
        starts = tile_starts(length, tile, overlap)
        covered = torch.zeros(length)
        for start in starts:
            covered[start : start + tile] += 1
        assert bool((covered >= 1).all()), (length, tile, overlap)
        assert all(a + tile - b >= overlap for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize(("size", "tile", "count"), [((100, 100), 40, 9), ((30, 100), 40, 3), ((40, 40), 40, 1),
                                                     ((48, 96), 24, 3 * 5)])
def test_tile_count_is_the_number_of_windows(size, tile, count):
    assert tile_count(size, tile) == count
    problem = Problem(torch.zeros(1, 3, *size), size)
    assert len(windows(problem, tile, "test")) == count


def test_a_ramp_without_fade_is_flat():
    assert torch.equal(ramp(6, 0, True, True), torch.ones(6))
    assert torch.equal(ramp(6, 3, False, False), torch.ones(6))


def test_a_ramp_rises_at_an_overlapping_start_and_falls_at_an_overlapping_end():
    torch.testing.assert_close(ramp(8, 3, True, False), torch.tensor([0.25, 0.5, 0.75, 1, 1, 1, 1, 1]))
    torch.testing.assert_close(ramp(8, 3, False, True), torch.tensor([1, 1, 1, 1, 1, 0.75, 0.5, 0.25]))
    torch.testing.assert_close(ramp(8, 3, True, True), torch.tensor([0.25, 0.5, 0.75, 1, 1, 0.75, 0.5, 0.25]))


def test_the_falling_and_rising_ramps_of_an_overlap_sum_to_one():
    for fade in (1, 2, 3, 5, 12):
        falling = ramp(20, fade, False, True)[-fade:]
        rising = ramp(20, fade, True, False)[:fade]
        torch.testing.assert_close(falling + rising, torch.ones(fade), rtol=0, atol=1e-6)


def test_window_crop_cuts_every_output_sized_tensor():
    observation, clean = random(1, 3, 20, 24, seed=1), random(1, 3, 40, 48, seed=2)
    mask, small = random(1, 1, 40, 48, seed=3), random(1, 1, 20, 24, seed=4)
    problem = Problem(observation, (40, 48), clean=clean, name="img", extras={"mask": mask, "small": small})
    window = Window(top=4, left=6, height=10, width=12, scale=2)
    assert window.output_slice == (slice(None), slice(None), slice(8, 28), slice(12, 36))
    piece = window.crop(problem)
    assert torch.equal(piece.observation, observation[..., 4:14, 6:18])
    assert piece.output_size == (20, 24) and piece.name == "img@4,6" and piece.info is problem.info
    assert torch.equal(piece.clean, clean[..., 8:28, 12:36])
    assert torch.equal(piece.extras["mask"], mask[..., 8:28, 12:36])
    assert piece.extras["small"] is small  # not at the output size: kept whole


def test_window_crop_without_ground_truth():
    problem = Problem(random(1, 3, 16, 16), (16, 16))
    assert Window(0, 8, 8, 8, 1).crop(problem).clean is None


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_blend_weights_sum_to_one_where_neighbours_overlap_by_the_fade(scale):
    # 44 = 2 x (16 - 2) + 16: windows at 0, 14 and 28 overlapping by exactly tile // 8 = 2 observed pixels.
    problem = Problem(torch.zeros(1, 3, 44, 44), (44 * scale, 44 * scale))
    assert [(w.top, w.left) for w in windows(problem, 16, "test")][:3] == [(0, 0), (0, 14), (0, 28)]
    torch.testing.assert_close(total_weight(problem, 16), torch.ones(1, 1, 44 * scale, 44 * scale),
                               rtol=0, atol=1e-6)


def test_blend_weights_are_positive_everywhere_whatever_the_overlap():
    # 50 pixels: windows at 0, 14, 28 and 34, the last two overlapping by more than the fade.
    problem = Problem(torch.zeros(1, 3, 50, 37), (50, 37))
    total = total_weight(problem, 16)
    assert bool((total >= 1 - 1e-6).all())  # never zero: restore_tiled divides by it


def test_a_window_at_the_border_does_not_fade_towards_it():
    blend = Window(0, 0, 16, 16, 1).blend(2, (16, 16))
    assert torch.equal(blend, torch.ones(1, 1, 16, 16))


@pytest.mark.parametrize(("shape", "output_size"), [((1, 3, 10, 10), (25, 25)), ((1, 3, 10, 10), (20, 25))])
def test_an_output_that_is_not_a_multiple_of_the_input_cannot_be_tiled(shape, output_size):
    message = "task 'blur' cannot be restored in tiles (output is not a multiple of the input)"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        windows(Problem(torch.zeros(shape), output_size), 4, "blur")


def test_restore_tiled_puts_exact_pieces_back_together():
    task = registry.get("tasks", "sr")(scale=2)
    clean = random(1, 3, 64, 64, seed=5)
    problem = task.degrade(clean, torch.Generator())
    request = FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), CPU)
    echo, names = Echo(), []
    result = restore_tiled(request, tile=12, on_tile=names.append, fit=echo)
    torch.testing.assert_close(result.output, clean, rtol=0, atol=1e-6)
    torch.testing.assert_close(result.extras["grey"], clean.mean(dim=1, keepdim=True), rtol=0, atol=1e-6)
    starts = tile_starts(32, 12, 1)
    assert names == [f"{problem.name}@{top},{left}" for top in starts for left in starts]
    assert [r.problem.name for r in echo.requests] == names
    assert all(r.settings is request.settings and r.arch is request.arch for r in echo.requests)


def test_restore_tiled_sums_the_bookkeeping_of_its_windows():
    task = registry.get("tasks", "denoise")()
    problem = task.degrade(random(1, 3, 40, 40, seed=6), torch.Generator().manual_seed(0))
    request = FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), CPU)
    echo = Echo(offset=0.01)
    result = restore_tiled(request, tile=16, fit=echo)
    count = tile_count((40, 40), 16)
    assert len(echo.requests) == count == 9
    assert result.iters == 10 + count and result.seconds == pytest.approx(0.5 * count)
    assert result.rollbacks == sum(index % 2 for index in range(1, count + 1))
    assert result.device == f"cpu:{count}" and result.settings is request.settings
    assert result.losses == [] and result.scores == []
    expected = task.metrics(problem.clean + 0.01, problem.clean)
    assert result.metrics["psnr"] == pytest.approx(expected["psnr"], abs=1e-3)
    assert result.metrics["psnr"] == pytest.approx(40.0, abs=1e-2)
    assert result.metrics["psnr_max"] == result.metrics["psnr"] and result.metrics["psnr_max_step"] == 10 + count


def test_restore_tiled_without_ground_truth_has_no_metrics():
    task = registry.get("tasks", "denoise")()
    problem = task.observe(random(1, 3, 24, 24, seed=7))

    def identity(request):
        return Echo()(request.replace(problem=Problem(request.problem.observation, request.problem.output_size,
                                                      clean=request.problem.observation)))

    result = restore_tiled(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), CPU), tile=16,
                           fit=identity)
    assert result.metrics == {}
    torch.testing.assert_close(result.output, problem.observation, rtol=0, atol=1e-6)


def test_tiled_restoration_blends_tiles():
    task = registry.get("tasks", "sr")(scale=2)
    problem = builtin_problem(task, 0, 64)
    settings = task.settings().replace(iters=10, device="cpu", precision="fp32")
    # A 32x32 observation in four 24x24 windows.
    request = FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8, depth=3), settings)
    result = restore_tiled(request, tile=24)
    assert result.output.shape == problem.clean.shape and torch.isfinite(result.output).all()
    assert 10 < result.metrics["psnr"] < 60


def test_the_restore_command_restores_in_tiles(runner, tmp_path):
    report = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--tile", "24", "--iters", "5",
                                 "--width", "8", "--precision", "fp32", "--device", "cpu", "--quiet",
                                 "--out", str(tmp_path), "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["psnr"] is not None
