"""Seed ensembles: the average of K fits (packed), its metrics, ``restore --seeds`` and ``bench --seeds``."""

from __future__ import annotations

import json
import statistics

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.errors import NasdipError
from nasdip.fit import memory
from nasdip.fit.engine import fit
from nasdip.fit.ensemble import fit_seeds, seed_settings
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import center_crop
from nasdip.io.images import save_image
from nasdip.nn.config import NetConfig

NARROW = NetConfig(width=8)
FAST = ["--iters", "12", "--width", "8", "--quiet", "--device", "cpu", "--precision", "fp32"]

#: Fitting settings of the estimates (only the device matters to them).
CPU = FitSettings(device="cpu")


def test_the_ensemble_is_the_mean_of_the_separate_fits():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = task.settings().replace(iters=20, device="cpu", precision="fp32", seed=4)
    ensemble = fit_seeds(FitRequest(task, problem, presets()["dip-skip"], NARROW, settings), seeds=3)
    alone = [fit(FitRequest(task, problem, presets()["dip-skip"], NARROW, s)) for s in seed_settings(settings, 3)]
    assert [s.seed for s in seed_settings(settings, 3)] == [4, 5, 6]
    assert torch.equal(ensemble.output, torch.stack([r.output for r in alone]).mean(dim=0))
    scores = [r.metrics["psnr"] for r in alone]
    assert ensemble.metrics["psnr"] == task.metrics(ensemble.output, problem.clean)["psnr"]
    assert ensemble.metrics["psnr_seed_mean"] == pytest.approx(statistics.mean(scores))
    assert ensemble.metrics["psnr_seed_sd"] == pytest.approx(statistics.stdev(scores))
    assert ensemble.metrics["psnr_max"] == max(r.metrics["psnr_max"] for r in alone)
    assert ensemble.metrics["seeds"] == 3 and ensemble.packed == 3
    one = fit_seeds(FitRequest(task, problem, presets()["dip-skip"], NARROW, settings), seeds=1)
    assert torch.equal(one.output, alone[0].output) and one.packed == 1


def test_restore_seeds_reports_the_average_and_its_members(runner, tmp_path):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--seeds", "3", "--json",
                                 "--out", str(tmp_path), *FAST])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["seeds"] == 3 and report["seed"] == 0
    assert {"psnr", "psnr_seed_mean", "psnr_seed_sd"} <= set(report)
    text = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--seeds", "2", "--out",
                               str(tmp_path), *FAST])
    assert text.exit_code == 0 and "the average of 2 fits (seeds 0-1); the fits alone: PSNR" in text.output


def test_restore_seeds_with_tiles(runner, tmp_path):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "48", "--tile", "32", "--seeds", "2",
                                 "--json", "--out", str(tmp_path), *FAST])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["seeds"] == 2


@pytest.mark.parametrize("value", ["0", "65"])
def test_restore_refuses_bad_seed_counts(runner, tmp_path, value):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--seeds", value, "--out", str(tmp_path), *FAST])
    assert result.exit_code == 2 and "--seeds" in result.output and not any(tmp_path.iterdir())


def test_memory_grows_with_members_and_the_refusal_suggests_fewer_seeds(monkeypatch):
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, 0, 128)
    arch = presets()["nasdip-denoise"]
    one = memory.estimate_fit_bytes(FitRequest(task, problem, arch, NetConfig(width=16), CPU))
    four = memory.estimate_fit_bytes(FitRequest(task, problem, arch, NetConfig(width=16), CPU), members=4)
    assert 4 * one < four < 5 * one
    monkeypatch.setattr(memory, "available_bytes", lambda device: 3 * one)
    memory.check_fits_in_memory(FitRequest(task, problem, arch, NetConfig(width=16), CPU), members=2)
    with pytest.raises(NasdipError, match=r"restoring 128x128 with 4 seeds at once .* use --tile \d+, fewer --seeds "
                                          r"\(now 4\), a smaller --width"):
        memory.check_fits_in_memory(FitRequest(task, problem, arch, NetConfig(width=16), CPU), members=4)


def test_bench_seeds(runner, tmp_path):
    folder = tmp_path / "images"
    photo = builtin_photo()[0]
    save_image(folder / "a.png", center_crop(photo, 32, 32))
    save_image(folder / "b.png", center_crop(photo[..., 100:, :], 32, 32))
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(folder), "--arch", "dip-skip",
                                 "--seeds", "2", "--json", *FAST])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = [row for row in report["rows"] if not row["baseline"]]
    assert report["seeds"] == 2 and len(rows) == 2
    assert all(row["seeds"] == 2 and row["packed"] == 4 and "psnr_seed_mean" in row for row in rows)
    means = {m["arch"]: m for m in report["means"]}
    assert means["dip-skip"]["psnr_seed_mean"] == pytest.approx(statistics.mean(r["psnr_seed_mean"] for r in rows))
    table = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(folder), "--arch", "dip-skip",
                                "--seeds", "2", *FAST])
    assert table.exit_code == 0 and "1 seed" in table.output and "average of 2 fits per image" in table.output
