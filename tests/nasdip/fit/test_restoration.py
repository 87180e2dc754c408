"""The comparison picture ``restore`` writes: every panel named, and scored when the ground truth is known."""

from __future__ import annotations

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
