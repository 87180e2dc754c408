"""Dehazing (Double-DIP): the scattering model, the dark-channel airlight, and a real recovery of synthetic haze."""

from __future__ import annotations

import json

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.errors import NasdipError, UsageError
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.io.images import save_image
from nasdip.nn.config import NetConfig
from nasdip.ops.haze import add_haze, dark_channel, estimate_airlight, recover_scene, refine_transmission
from nasdip.ops.metrics import psnr


def dehaze(**values):
    return registry.get("tasks", "dehaze")(**values)


def test_scattering_model_round_trip():
    clean = torch.rand(1, 3, 16, 16)
    t = torch.rand(1, 1, 16, 16) * 0.9 + 0.1
    airlight = torch.tensor([[0.8, 0.85, 0.9]])
    torch.testing.assert_close(recover_scene(add_haze(clean, t, airlight), t, airlight), clean)


def test_dark_channel_and_airlight():
    image = torch.rand(1, 3, 40, 40) * 0.5
    image[..., 5:15, 5:15] = torch.tensor([0.9, 0.8, 0.7]).view(1, 3, 1, 1)  # a bright, hazy-looking patch
    dark = dark_channel(image, patch=3)
    assert dark.shape == (1, 1, 40, 40)
    assert torch.allclose(dark[..., 10, 10], torch.tensor(0.7))
    assert (dark <= image.min(dim=1, keepdim=True).values + 1e-6).all()
    torch.testing.assert_close(estimate_airlight(image, patch=3, fraction=0.01), torch.tensor([[0.9, 0.8, 0.7]]))


def test_refined_transmission_stays_in_range():
    t = torch.rand(1, 1, 64, 64)
    refined = refine_transmission(t, torch.rand(1, 3, 64, 64), radius=4)
    assert refined.min() >= 0.1 and refined.max() <= 1.0
    assert refined.std() < t.std()  # smoother


def test_synthetic_haze_is_recovered():
    # Calibration (2 CPU cores, dip-skip width 16, 96x96 crop, 300 steps): hazy 11.35 dB -> 15.45 dB (dcp
    # airlight), 16.16 dB (refined airlight); 500 steps: +4.2 / +4.8 dB over the hazy input (seeds 0, 1).
    task = dehaze()
    problem = builtin_problem(task, seed=0, crop=96)
    result = task.fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=16), task.settings().replace(iters=300, device="cpu")))
    hazy = psnr(problem.observation, problem.clean).item()
    assert result.metrics["psnr"] > hazy + 2.5
    transmission = result.extras["transmission"]
    assert transmission.shape == (1, 1, 96, 96) and transmission.min() >= 0.1 and transmission.max() <= 1.0


def test_grey_images_are_refused():
    with pytest.raises(NasdipError, match="dehazing needs an RGB image"):
        dehaze().observe(torch.rand(1, 1, 32, 32))


@pytest.mark.parametrize(
    ("values", "message"),
    [({"tv_weight": -0.1}, "--tv-weight must be in the range 0<=x<=100, got -0.1"),
     ({"beta": 0.0}, "--beta must be in the range 0<x<=20, got 0.0"),
     ({"max_side": 4}, "--max-side must be in the range 16<=x<=16384, got 4"),
     ({"guide_radius": -1}, "--guide-radius must be in the range 0<=x<=1000, got -1"),
     ({"beta": float("inf")}, "--beta must be a finite number, got inf")],
)
def test_out_of_range_options_are_usage_errors(values, message):
    with pytest.raises(UsageError) as caught:
        dehaze(**values)
    assert str(caught.value) == message


def test_large_photos_are_downscaled():
    problem = dehaze(max_side=64).observe(torch.rand(1, 3, 100, 200))
    assert problem.observation.shape == (1, 3, 32, 64) and problem.output_size == (32, 64)


def test_restore_writes_the_clear_image_and_the_transmission(runner, tmp_path):
    save_image(tmp_path / "hazy.png", torch.rand(1, 3, 40, 48) * 0.3 + 0.6)
    result = runner.invoke(cli, ["restore", str(tmp_path / "hazy.png"), "--task", "dehaze", "--t-arch", "dip-skip",
                                 "--airlight", "refine", "--iters", "10", "--width", "8", "--quiet", "--out",
                                 str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["output"].endswith("hazy_dehaze.png")
    assert report["transmission"].endswith("hazy_dehaze_transmission.png")
    from PIL import Image

    assert Image.open(report["transmission"]).mode == "L" and Image.open(report["output"]).size == (48, 40)


def test_dehazing_is_a_search_task(tmp_path):
    from nasdip.search.driver import start_search
    from nasdip.search.jobs import Fidelity
    from nasdip.search.settings import SearchSettings

    settings = SearchSettings(searcher="random", task="dehaze", space="upsample-cell", budget=2, batch=2,
                              fidelity=Fidelity(iters=5, crop=32, width=8), device="cpu")
    summary = start_search(settings, tmp_path / "run", None).run()
    # Calibration (seeds 0, 1): best reward 12.70 / 14.00 dB against 9.62 / 9.73 dB for the hazy crops.
    from nasdip.fit.inputs import degrade_set
    from nasdip.io.builtin import builtin_regions

    task = settings.make_task()
    problems = degrade_set(task, builtin_regions(32), settings.seed)
    hazy = sum(task.metrics(task.baseline(p), p.clean)["psnr"] for p in problems) / len(problems)
    assert summary.evaluated == 2 and summary.failed == 0 and summary.best_reward > hazy + 2.0


def test_automatic_stopping_and_held_out_pixels_work_for_two_networks():
    # Double-DIP takes part in stopping through the task API alone: its residual is the haze model's misfit.
    task = dehaze()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = task.settings().replace(iters=80, device="cpu", stop="holdout", holdout=0.1, stop_window=10,
                                       stop_patience=30)
    result = task.fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings))
    assert result.stop_reason in ("detected", "cap") and 10 <= result.metrics["stop_step"] <= result.iters
    assert len(result.heldout) == result.iters and all(v == v for v in result.heldout)  # finite, not NaN
    assert 5 < result.metrics["holdout_psnr"] < 50 and "transmission" in result.extras


def test_a_photo_downscaled_below_the_minimum_size_is_refused():
    # 12 x 2000 passes the 11-pixel minimum, but --max-side 512 shrinks it to 3 x 512: too small to restore.
    with pytest.raises(NasdipError, match=r"^the hazy image downscaled to --max-side 512 is 512x3; task 'dehaze' needs "
                                          r"at least 11x11 pixels"):
        dehaze().observe(torch.rand(1, 3, 12, 2000))
    assert dehaze().observe(torch.rand(1, 3, 50, 2000)).observation.shape[-2:] == (13, 512)
