"""Benchmarks: a baseline row and one row per architecture for each image, means per arch, the text table."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import SEED_STRIDE, degrade_set
from nasdip.fit.settings import FitSettings
from nasdip.io.builtin import builtin_photo
from nasdip.io.crops import center_crop, crop_square
from nasdip.io.images import load_image, save_image
from nasdip.nn.config import NetConfig
from nasdip.report.bench import (
    RefusedImage,
    bench_problem,
    bench_problems,
    format_table,
    means,
    metric_keys,
    result_row,
    run_bench,
)
from nasdip.runinfo import RunInfo

SETTINGS = FitSettings(iters=3, device="cpu", precision="fp32", seed=0)
CONFIG = NetConfig(width=4)
KEYS = ("psnr", "psnr_max", "ssim")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / (a.double() - b.double()).square().mean().item())


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny fits run fastest, and steadiest on a busy machine, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def task():
    return registry.get("tasks", "denoise")()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    photo = builtin_photo()[0]
    save_image(folder / "a.png", center_crop(photo, 24, 24))
    save_image(folder / "b.png", center_crop(photo[..., 60:, :], 20, 24))
    return [folder / "a.png", folder / "b.png"]


@pytest.fixture(scope="module")
def unnamed():
    """dip-skip without its name: labelled ``space:digest``."""
    return presets()["dip-skip"].replace(name=None)


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, hook_name, run, **arguments):
        self.calls.append((hook_name, run.tag, sorted(run.images)))


@pytest.fixture(scope="module")
def bench(task, images, unnamed, tmp_path_factory):
    """Two images of one size, two architectures: rows, fit starts, events, output folder."""
    starts, recorder, out = [], Recorder(), tmp_path_factory.mktemp("out")
    rows = run_bench(task, images, [presets()["dip-skip"], unnamed], CONFIG, SETTINGS, crop=16,
                     run=RunInfo("bench", listeners=recorder), on_fit_start=lambda *a: starts.append(a), out_dir=out)
    return rows, starts, recorder.calls, out


def test_each_image_has_a_baseline_row_then_one_row_per_arch(bench, task, unnamed):
    rows, _, _, _ = bench
    assert [(r["image"], r["arch"], r["baseline"]) for r in rows] == [
        ("a.png", "noisy", True), ("a.png", "dip-skip", False), ("a.png", unnamed.label, False),
        ("b.png", "noisy", True), ("b.png", "dip-skip", False), ("b.png", unnamed.label, False)]
    assert all(r["size"] == "16x16" and r["error"] is None for r in rows)
    assert task.baseline_name == "noisy"


def test_the_baseline_row_scores_the_observation(bench, task, images):
    rows, _, _, _ = bench
    problems = degrade_set(task, [(p.name, crop_square(load_image(p)[0], 16)) for p in images], SETTINGS.seed)
    for row, problem in zip([rows[0], rows[3]], problems, strict=True):
        assert row["psnr"] == pytest.approx(psnr(problem.observation, problem.clean), abs=1e-4)
        assert set(row) == {"image", "size", "arch", "baseline", "psnr", "ssim", "error"}


def test_arch_rows_carry_metrics_and_timings(bench):
    rows, _, _, _ = bench
    for row in (r for r in rows if not r["baseline"]):
        assert (row["iters"], row["stop_reason"], row["rollbacks"], row["packed"], row["stop_step"]) == (
            3, "iters", 0, 2, 3)
        assert row["seconds_per_step"] == pytest.approx(row["seconds"] / 3)
        assert row["psnr_max"] >= row["psnr"] and 0 < row["ssim"] < 1


def test_the_restorations_are_saved_and_match_their_rows(bench, unnamed):
    rows, _, _, out = bench
    label = unnamed.label.replace(":", "-")
    assert ":" in unnamed.label
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{s}_denoise_dip-skip.png" for s in "ab"] + [f"{s}_denoise_{label}.png" for s in "ab"])
    photo = builtin_photo()[0]
    clean = crop_square(center_crop(photo, 24, 24), 16)
    saved = load_image(out / "a_denoise_dip-skip.png")[0]
    assert saved.shape == clean.shape
    assert psnr(saved, clean) == pytest.approx(rows[1]["psnr"], abs=0.1)  # 8-bit file, same restoration


def test_the_fits_of_one_arch_start_as_one_pack(bench, unnamed):
    _, starts, _, _ = bench
    assert starts == [("a+b/dip-skip", 2), (f"a+b/{unnamed.label}", 2)]


def test_each_fit_reports_to_a_child_run_with_its_images(bench, unnamed):
    _, _, calls, _ = bench
    finished = [(tag, images) for hook, tag, images in calls if hook == "fit_finished"]
    tags = ["a/dip-skip", "b/dip-skip", f"a/{unnamed.label}", f"b/{unnamed.label}"]
    assert sorted(finished) == sorted((tag, ["clean", "observation"]) for tag in tags)


def test_seed_ensembles_fitted_one_by_one_average_their_members(images):
    task = registry.get("tasks", "denoise")()  # its own instance: its fit is spied on
    members, starts, recorder = [], [], Recorder()
    original = task.fit
    task.fit = lambda request: members.append((request, original(request))) or members[-1][1]
    rows = run_bench(task, images[:1], [presets()["dip-skip"]], CONFIG, SETTINGS, crop=16, seeds=2, pack=False,
                     run=RunInfo("bench", listeners=recorder), on_fit_start=lambda *a: starts.append(a))
    baseline, row = rows
    assert baseline["baseline"] and starts == [("a/dip-skip", 1), ("a/dip-skip", 1)]
    assert [request.settings.seed for request, _ in members] == [0, 1]
    assert members[0][0].problem is members[1][0].problem  # one observation for both seeds
    scores = [result.metrics["psnr"] for _, result in members]
    assert (row["seeds"], row["packed"]) == (2, 1)
    assert row["psnr_seed_mean"] == pytest.approx(statistics.mean(scores), abs=1e-6)
    assert row["psnr_seed_sd"] == pytest.approx(statistics.stdev(scores), abs=1e-6)
    assert row["psnr_max"] == max(result.metrics["psnr_max"] for _, result in members)
    clean = members[0][0].problem.clean
    assert row["psnr"] == pytest.approx(psnr((members[0][1].output + members[1][1].output) / 2, clean), abs=1e-3)
    assert sorted(tag for hook, tag, _ in recorder.calls if hook == "fit_finished") == [
        "a/dip-skip/seed0", "a/dip-skip/seed1"]
    lines = format_table(rows, metric_keys(task))
    assert lines[0].endswith(" 1 seed") and lines[2].endswith(f" {row['psnr_seed_mean']:>7.2f}")
    assert lines[1].endswith("       -")  # the baseline has no single-seed score


def test_a_failed_fit_is_a_row_with_its_error(task, images):
    problem = degrade_set(task, [("a.png", crop_square(load_image(images[0])[0], 16))], 0)[0]
    row, result = result_row(problem, presets()["dip-skip"], [RuntimeError("out of memory")], task)
    assert result is None
    assert row == {"image": "a.png", "size": "16x16", "arch": "dip-skip", "baseline": False,
                   "error": "RuntimeError: out of memory"}


def test_metric_keys_are_score_oracle_and_ssim(task):
    assert metric_keys(task) == ("psnr", "psnr_max", "ssim")
    assert metric_keys(registry.get("tasks", "sr")()) == ("psnr", "psnr_max", "ssim")


def hand_rows():
    return [
        {"image": "a", "arch": "noisy", "psnr": 20.0, "ssim": 0.5, "error": None},
        {"image": "a", "arch": "dip", "psnr": 24.0, "psnr_max": 25.0, "ssim": 0.7, "stop_step": 100,
         "seconds": 2.0, "error": None},
        {"image": "b", "arch": "noisy", "psnr": 22.0, "ssim": 0.6, "error": None},
        {"image": "b", "arch": "dip", "psnr": 27.0, "psnr_max": 28.0, "ssim": 0.8, "stop_step": 200,
         "seconds": 4.0, "error": None},
        {"image": "c", "arch": "dip", "error": "RuntimeError: out of memory"},
    ]


def test_means_average_the_successful_fits_per_arch():
    noisy, dip = means(hand_rows(), KEYS)
    assert noisy == {"arch": "noisy", "images": 2, "failed": 0, "psnr": 21.0, "psnr_max": None,
                     "ssim": pytest.approx(0.55), "psnr_seed_mean": None, "stop_step": None, "seconds": None}
    assert dip == {"arch": "dip", "images": 2, "failed": 1, "psnr": 25.5, "psnr_max": 26.5,
                   "ssim": pytest.approx(0.75), "psnr_seed_mean": None, "stop_step": 150.0, "seconds": 3.0}


def test_means_of_an_arch_whose_fits_all_failed():
    (entry,) = means([{"arch": "x", "error": "boom"}], KEYS)
    assert entry["images"] == 0 and entry["failed"] == 1 and entry["psnr"] is None and entry["seconds"] is None


def test_format_table_lines():
    rows = [*hand_rows()[:2], {"arch": "nan-arch", "psnr": float("nan"), "error": None}, hand_rows()[4]]
    assert format_table(rows, KEYS) == [
        "  arch                        PSNR  PSNR max*    SSIM   step   seconds",
        "  noisy                      20.00          -  0.5000      -         -",
        "  dip                        24.00      25.00  0.7000    100       2.0",
        "  nan-arch                       -          -       -      -         -",
        "  dip                      failed: RuntimeError: out of memory",
    ]


def test_format_table_of_means_uses_the_same_columns():
    lines = format_table(means(hand_rows(), KEYS), KEYS)
    assert lines[1:] == ["  noisy                      21.00          -  0.5500      -         -",
                         "  dip                        25.50      26.50  0.7500    150       3.0"]


def test_an_image_the_task_refuses_gets_rows_with_its_reason_and_the_others_are_benchmarked(task, images, tmp_path):
    save_image(tmp_path / "0_tiny.png", torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(0)))
    (tmp_path / "1_broken.png").write_bytes(b"not a png")
    arch = presets()["dip-skip"]
    fits = []
    rows = run_bench(task, [tmp_path / "0_tiny.png", tmp_path / "1_broken.png", *images], [arch], CONFIG, SETTINGS,
                     crop=16, on_fit_start=lambda label, count: fits.append((label, count)))
    assert [(r["image"], r["arch"], r.get("refused", False)) for r in rows] == [
        ("0_tiny.png", "noisy", True), ("0_tiny.png", "dip-skip", True),
        ("1_broken.png", "noisy", True), ("1_broken.png", "dip-skip", True),
        ("a.png", "noisy", False), ("a.png", "dip-skip", False), ("b.png", "noisy", False), ("b.png", "dip-skip", False)]
    assert rows[0]["size"] == "9x8" and rows[0]["error"].startswith("image is 9x8; task 'denoise' needs at least 11x11")
    assert rows[2]["size"] == "-" and "1_broken.png: not an image file" in rows[2]["error"]
    assert all(row["error"] is None for row in rows[4:]) and fits == [("a+b/dip-skip", 2)]
    # The good images keep the observation (seed) of their position in the folder: index 2 and 3.
    expected = bench_problems(task, [tmp_path / "0_tiny.png", tmp_path / "1_broken.png", *images], 16, SETTINGS.seed)
    alone = bench_problem(task, images[0], 16, SETTINGS.seed + 2 * SEED_STRIDE)
    assert isinstance(expected[0], RefusedImage) and torch.equal(expected[2].observation, alone.observation)
    summary = {entry["arch"]: entry for entry in means(rows, KEYS)}
    assert (summary["dip-skip"]["images"], summary["dip-skip"]["failed"]) == (2, 2)
