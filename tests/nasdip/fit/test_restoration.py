"""The comparison picture ``restore`` writes: every panel named, and scored when the ground truth is known."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip import registry
from nasdip.fit import restoration
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.restoration import comparison


@pytest.fixture
def captured(monkeypatch):
    """The panels ``comparison`` hands to ``side_by_side``."""
    seen = []

    def capture(panels):
        seen.extend(panels)
        return torch.zeros(1, 3, 1, 1)

    monkeypatch.setattr(restoration, "side_by_side", capture)
    return seen


def test_super_resolution_panels_are_named_and_scored(captured):
    task = registry.get("tasks", "sr")(scale=4)
    problem = builtin_problem(task, seed=0, crop=64)
    restored = (problem.clean + 0.05 * torch.randn(problem.clean.shape, generator=torch.Generator().manual_seed(0)))
    comparison(task, problem, {"restored": restored.clamp(0, 1)})
    bicubic = task.metrics(task.baseline(problem), problem.clean)["psnr"]
    ours = task.metrics(restored.clamp(0, 1), problem.clean)["psnr"]
    assert [panel.caption for panel in captured] == [
        ("input",),  # a 16x16 observation has no PSNR against the 64x64 original
        ("bicubic", f"PSNR {bicubic:.2f} dB"), ("restored", f"PSNR {ours:.2f} dB"), ("ground truth",)]
    assert all(panel.image.shape[-2:] == (64, 64) for panel in captured)


def test_denoising_input_is_the_baseline_and_is_scored(captured):
    task = registry.get("tasks", "denoise")(sigma=25)
    problem = builtin_problem(task, seed=0, crop=32)
    restored = problem.clean * 0.9
    comparison(task, problem, {"restored": restored})
    noisy = task.metrics(problem.observation, problem.clean)["psnr"]
    ours = task.metrics(restored, problem.clean)["psnr"]
    assert [panel.caption for panel in captured] == [("input (noisy)", f"PSNR {noisy:.2f} dB"),
                                                     ("restored", f"PSNR {ours:.2f} dB"), ("ground truth",)]


def test_without_ground_truth_panels_are_named_only(captured):
    task = registry.get("tasks", "denoise")(sigma=25)
    problem = builtin_problem(task, seed=0, crop=32)
    problem = type(problem)(problem.observation, problem.output_size, name="photo")
    comparison(task, problem, {"restored": problem.observation})
    assert [panel.caption for panel in captured] == [("input (noisy)",), ("restored",)]


def test_restore_writes_the_captioned_picture(runner, tmp_path):
    from nasdip.cli import cli
    from nasdip.io.images import load_image

    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "5", "--width", "8",
                                 "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    picture, _ = load_image(tmp_path / "grace_hopper_denoise_comparison.png")
    assert picture.shape[-2] > 32 and picture.shape[-1] >= 3 * 32 + 2 * 4  # three panels above their captions


def test_compared_architectures_restore_the_same_observation_beside_the_main_one(captured, tmp_path):
    from nasdip.arch.catalog import presets
    from nasdip.fit.engine import fit
    from nasdip.fit.request import FitRequest
    from nasdip.nn.config import NetConfig

    task = registry.get("tasks", "sr")(scale=4)
    problem = builtin_problem(task, seed=0, crop=32)
    settings = task.settings().replace(iters=6, device="cpu", precision="fp32")
    request = FitRequest(task, problem, presets()["nasdip-sr"], NetConfig(width=8), settings)
    result, report = restoration.restore(request, tmp_path, compare=[presets()["dip-skip"]])
    alone = fit(request.replace(arch=presets()["dip-skip"]))
    assert [panel.caption[0] for panel in captured] == ["input", "bicubic", "dip-skip", "nasdip-sr", "ground truth"]
    assert torch.equal(captured[2].image, alone.output.clamp(0, 1)) and torch.equal(captured[3].image,
                                                                                   result.output.clamp(0, 1))
    assert report["arch"] == "nasdip-sr" and report["compared"]["dip-skip"]["psnr"] == alone.metrics["psnr"]


def test_restore_compare_on_the_command_line(runner, tmp_path):
    import json

    from nasdip.cli import cli

    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "5", "--width", "8",
                                 "--quiet", "--device", "cpu", "--compare", "dip-skip", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["compared"]) == {"dip-skip"} and report["compared"]["dip-skip"]["iters"] == 5
    bad = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--compare", "nasdip-rs"])
    assert bad.exit_code == 2 and "did you mean 'nasdip-sr'" in bad.output


def test_a_gallery_shows_every_restoration_enlarged_and_scored(captured):
    task = registry.get("tasks", "denoise")(sigma=25)
    problems = [builtin_problem(task, seed=0, crop=32), builtin_problem(task, seed=1, crop=24)]
    outputs = [problem.clean * 0.9 for problem in problems]
    restoration.gallery(task, problems, outputs)
    scores = [task.metrics(output, problem.clean)["psnr"] for problem, output in zip(problems, outputs, strict=True)]
    assert [panel.caption for panel in captured] == [(problem.name, f"PSNR {score:.2f} dB")
                                                     for problem, score in zip(problems, scores, strict=True)]
    assert [tuple(panel.image.shape[-2:]) for panel in captured] == [(160, 160), (160, 160)]
    assert torch.equal(captured[0].image[..., ::5, ::5], outputs[0].clamp(0, 1))  # enlarged 5x, nearest


def test_saturated_fraction_counts_the_values_written_as_0_or_255():
    image = torch.tensor([0.0, 0.001, 0.5, 0.999, 1.0, 0.3, 0.7, 0.2]).view(1, 1, 2, 4)
    assert restoration.saturated_fraction(image) == 4 / 8  # 0.001 -> 0 and 0.999 -> 255 once written


@pytest.mark.parametrize(("losses", "expected"), [
    ([0.05] + [0.168] * 29, (10 * math.log10(0.168 / 0.05), 1)),  # the lr=10 fit: stuck from step 2
    ([0.1, 0.09, 0.08, 0.07, 0.06, 0.05], None),  # still falling: ends at its best
    ([0.1, 0.01, 0.012, 0.011, 0.013, 0.012, 0.011, 0.012], (10 * math.log10(0.012 / 0.01), 2)),
    ([0.2], None),
    ([float("nan"), 0.05, float("inf"), 0.2], (10 * math.log10(0.2 / 0.05), 2)),
])
def test_loss_rise_compares_the_final_losses_with_the_best_before_them(losses, expected):
    rise = restoration.loss_rise_db(losses)
    if expected is None:
        assert rise is None
    else:
        assert rise[0] == pytest.approx(expected[0]) and rise[1] == expected[1]


def fitted(output, losses, lr=0.01, observation=None):
    """A request and a result with the given output and losses (nothing is fitted)."""
    from nasdip.arch.catalog import presets
    from nasdip.fit.problem import Problem
    from nasdip.fit.request import FitRequest
    from nasdip.fit.result import FitResult
    from nasdip.nn.config import NetConfig

    task = registry.get("tasks", "denoise")()
    observation = torch.full((1, 3, 12, 12), 0.5) if observation is None else observation
    settings = task.settings().replace(lr=lr, device="cpu")
    request = FitRequest(task, Problem(observation, (12, 12)), presets()["dip-skip"], NetConfig(width=4), settings)
    result = FitResult(output=output, metrics={}, losses=losses, scores=[], iters=len(losses), seconds=1.0,
                       rollbacks=0, settings=settings, device="cpu")
    return request, result


def test_a_sound_fit_gets_no_warning():
    request, result = fitted(torch.full((1, 3, 12, 12), 0.4), [0.1, 0.05, 0.04, 0.03])
    assert restoration.fit_warning(request, result) is None


def test_a_saturated_restoration_and_a_risen_loss_make_one_line():
    saturated = (torch.arange(432).view(1, 3, 12, 12) % 2).float()
    request, result = fitted(saturated, [0.05] + [0.2] * 9, lr=5.0)
    assert restoration.fit_warning(request, result) == (
        "the restoration is saturated (100% of its values are 0 or 255) and the fit's final loss is 6.0 dB above its "
        "best (step 1): learning rate 5 is likely too high; try a lower --lr (the task's default is 0.01)")
    request, result = fitted(torch.full((1, 3, 12, 12), 0.4), [0.05] + [0.2] * 9, lr=5.0)
    assert restoration.fit_warning(request, result).startswith("the fit's final loss is 6.0 dB above its best")


def test_a_black_and_white_observation_may_be_restored_black_and_white():
    binary = (torch.arange(432).view(1, 3, 12, 12) % 2).float()
    request, result = fitted(binary, [0.1, 0.05], observation=binary)
    assert restoration.fit_warning(request, result) is None
