"""``nasdip bench``: tables per image, means per arch (baseline included), JSON, failures recorded."""

from __future__ import annotations

import json

import pytest
import torch

from nasdip.cli import cli
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import center_crop
from nasdip.io.images import save_image


@pytest.fixture
def images(tmp_path):
    photo = builtin_photo()[0]
    folder = tmp_path / "images"
    save_image(folder / "a.png", center_crop(photo, 64, 64))
    save_image(folder / "b.png", center_crop(photo[..., 100:, :], 72, 80))
    (folder / "notes.txt").write_text("not an image")
    return folder


ARGS = ["--iters", "10", "--width", "8", "--crop", "48", "--quiet", "--device", "cpu"]


def test_json_rows_and_means(runner, images):
    result = runner.invoke(cli, ["bench", "--task", "sr", "--scale", "2", "--images", str(images),
                                 "--arch", "dip-skip", "--arch", "nasdip-sr", *ARGS, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = report["rows"]
    assert [(r["image"], r["arch"]) for r in rows] == [
        ("a.png", "bicubic"), ("a.png", "dip-skip"), ("a.png", "nasdip-sr"),
        ("b.png", "bicubic"), ("b.png", "dip-skip"), ("b.png", "nasdip-sr"),
    ]
    assert all(r["size"] == "48x48" for r in rows)
    means = {m["arch"]: m for m in report["means"]}
    assert means["dip-skip"]["psnr"] == pytest.approx((rows[1]["psnr"] + rows[4]["psnr"]) / 2)
    assert means["bicubic"]["images"] == 2 and means["bicubic"]["psnr_max"] is None


def test_table_output(runner, images):
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(images), *ARGS])
    assert result.exit_code == 0, result.output
    assert "mean over 2 images" in result.output
    assert "noisy" in result.output and "nasdip-denoise" in result.output and "dip-skip" in result.output
    assert "oracle" in result.output


def test_same_observation_for_every_arch(images):
    from nasdip import registry
    from nasdip.arch.catalog import presets
    from nasdip.fit.settings import FitSettings
    from nasdip.io.images import list_images
    from nasdip.nn.config import NetConfig
    from nasdip.report.bench import run_bench

    seen = []
    task = registry.get("tasks", "denoise")()
    original = task.fit

    def spy(request):
        seen.append(request.problem.observation.clone())
        return original(request)

    task.fit = spy
    run_bench(task, list_images(images)[:1], [presets()["dip-skip"], presets()["dip-skip"]], NetConfig(width=8),
              FitSettings(iters=3, device="cpu"), crop=32)
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])


def test_a_failing_fit_is_recorded_and_the_rest_continue(runner, images, monkeypatch):
    from nasdip.tasks.denoise import Denoising

    calls = {"n": 0}
    original = Denoising.fit

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("out of memory")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Denoising, "fit", flaky)
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(images), "--arch", "dip-skip", *ARGS])
    assert result.exit_code == 1
    assert "failed: RuntimeError: out of memory" in result.output
    assert "Error: 1 fit(s) failed" in result.output
    assert result.output.count("dip-skip") >= 3


def test_bad_images_directory(runner, tmp_path):
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(tmp_path), *ARGS])
    assert result.exit_code == 1 and "no images" in result.output
