"""``restore --arch auto`` end to end on tiny images: the chosen architecture's document beside the restoration,
its cost in plain fits, TensorBoard's search with --logdir, and the one-line refusals before any work."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
import torch

from nasdip import hookimpl
from nasdip.arch.catalog import resolve_arch
from nasdip.cli import cli
from nasdip.cli import progress as progress_module
from nasdip.io.images import save_image
from nasdip.search import auto
from nasdip.tasks.denoise import Denoising

TINY = ["--iters", "30", "--width", "8", "--device", "cpu", "--quiet", "--auto-candidates", "18"]


@pytest.fixture(autouse=True)
def short_rungs(monkeypatch):
    monkeypatch.setattr(auto, "MIN_SELECTION_STEPS", 1)  # tiny step counts still get selection rungs


def restore(runner, *args):
    return runner.invoke(cli, ["restore", *TINY, *args], catch_exceptions=False)


def image(path, side=32, seed=0):
    save_image(path, torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed)))
    return str(path)


def test_auto_restores_with_the_architecture_it_chose_and_writes_it_beside(runner, tmp_path):
    noisy = image(tmp_path / "noisy.png")
    result = restore(runner, noisy, "--task", "denoise", "--arch", "auto", "--out", str(tmp_path / "out"),
                     "--logdir", str(tmp_path / "logs"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["arch"] == "auto-noisy" and report["arch_file"] == str(tmp_path / "out" / "noisy_denoise_arch.json")
    meta = report["auto"]
    assert (meta["score"], meta["reward"], meta["fitted"]) == ("psd", "recorrupted", [9, 3])
    assert meta["included"] == list(Denoising.auto_include)  # the task's presets, in 3 of the 9 places
    assert meta["scored"] == 2 * (9 - 3)
    included = {resolve_arch(name).digest for name in Denoising.auto_include}
    won = [entry["rung"] for entry in meta["winner"]]
    assert won == ([1, 2] if resolve_arch(report["arch_file"]).digest in included else [0, 1, 2])  # scored or not
    assert meta["selection_steps"] == [3, 10]
    # 9 fits of 3 steps, 3 of 10 and the restoration's 30, over one 30-step fit (all on 32x32 pixels)
    assert meta["cost"] == pytest.approx((9 * 3 + 3 * 10 + 30) / 30, abs=1e-3) and meta["cost"] <= meta["budget"]
    chosen = resolve_arch(report["arch_file"])
    assert chosen.name == "auto-noisy" and chosen.meta["chosen_by"] == "nasdip restore --arch auto"
    trials = (tmp_path / "logs" / "noisy_auto" / "trials.jsonl").read_text().splitlines()
    assert len(trials) == 12 + 9 + 3  # the candidates, logged like a search's (TensorBoard there too)
    assert list((tmp_path / "logs" / "noisy_auto").glob("events.out.tfevents.*"))
    again = runner.invoke(cli, ["restore", noisy, "--task", "denoise", "--arch", report["arch_file"], *TINY[:-2],
                                "--out", str(tmp_path / "re"), "--json"])
    assert json.loads(again.output)["arch"] == "auto-noisy"


def test_auto_ranks_by_the_reward_it_is_told(runner, tmp_path):
    """``--auto-reward`` replaces the task's no-reference reward: denoising ranked by held-out pixels (fits of the
    observation's size, as recorruption's, so the plan and the cost are the same)."""
    noisy = image(tmp_path / "noisy.png")
    result = restore(runner, noisy, "--task", "denoise", "--arch", "auto", "--auto-reward", "holdout",
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "ranked by holdout" in result.output
    meta = json.loads((tmp_path / "out" / "noisy_denoise_arch.json").read_text())["meta"]
    assert (meta["reward"], meta["fitted"], meta["selection_steps"]) == ("holdout", [9, 3], [3, 10])
    assert meta["cost"] == pytest.approx((9 * 3 + 3 * 10 + 30) / 30, abs=1e-3)


def test_auto_super_resolution_selects_across_scales_and_prints_its_choice(runner, tmp_path):
    low = image(tmp_path / "low.png", side=21)  # odd: cropped to 20 for the cross-scale fits
    result = restore(runner, low, "--task", "sr", "--scale", "2", "--arch", "auto", "--auto-candidates", "54",
                     "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "auto: 48 candidates scored by psd, then 27 at 3 steps (3 of them unscored: dip-skip, nasdip-sr, " \
           "searched-sr) -> 9 at" in result.output and "ranked by cross-scale" in result.output
    assert "chose auto-low" in result.output and "auto cost " in result.output
    meta = json.loads((tmp_path / "out" / "low_sr_arch.json").read_text())["meta"]
    assert meta["reward"] == "cross-scale" and meta["fitted"] == [27, 9, 3]  # a quarter of the pixels: a rung more
    assert meta["cost"] <= 3


def test_auto_inpaints_the_built_in_photo_and_reports_its_psnr_only_afterwards(runner, tmp_path):
    result = restore(runner, "--task", "inpaint", "--crop", "32", "--arch", "auto", "--auto-budget", "1",
                     "--compare", "dip-skip", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["auto"]["fitted"] == [] and report["auto"]["cost"] == 1.0  # a budget of one fit: the score alone
    assert report["psnr"] is not None and "dip-skip" in report["compared"]


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so the bars draw."""

    def isatty(self) -> bool:
        return True


def test_the_choice_bar_counts_what_is_played_and_ends_full(runner, tmp_path, monkeypatch):
    """Its total is the candidates scored (18 less the task's 3 included presets' 6) and the selection rungs'
    fits: the top rung is the restoration, fitted after the choice under its own bar."""
    stream, ends = Terminal(), []
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stream))
    close = progress_module.SearchProgress.close

    def record_and_close(self):
        if self.bar is not None:
            ends.append((self.bar.n, self.bar.total))
        close(self)

    monkeypatch.setattr(progress_module.SearchProgress, "close", record_and_close)
    result = runner.invoke(cli, ["restore", image(tmp_path / "noisy.png"), "--task", "denoise", "--arch", "auto",
                                 *TINY[:-3], "--auto-candidates", "18", "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["auto"]["fitted"] == [9, 3]
    assert ends == [(12 + 9 + 3, 12 + 9 + 3)] and "24.0/24 trials" in stream.getvalue()


def test_auto_dehazing_chooses_the_clear_image_generator_by_held_out_hazy_pixels(runner, tmp_path):
    hazy = image(tmp_path / "hazy.png")
    result = restore(runner, hazy, "--task", "dehaze", "--arch", "auto", "--auto-candidates", "6", "--out",
                     str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["auto"]["reward"] == "holdout" and report["auto"]["fitted"] == [3]
    assert (tmp_path / "out" / "hazy_dehaze_arch.json").exists()


class Unrankable(Denoising):
    """A third-party task that declares no no-reference reward."""

    name = "unrankable"
    no_reference_reward = None


@pytest.fixture
def unrankable(register_plugin):
    class Plugin:
        @hookimpl
        def register_tasks(self, register):
            register(Unrankable)

    register_plugin(Plugin(), "unrankable-plugin")


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "unrankable", "--arch", "auto"], "task 'unrankable' declares no no-reference reward"),
    (["--task", "denoise", "--arch", "auto", "--seeds", "2"], "--arch auto chooses the architecture of one fit and "
                                                                "cannot average --seeds"),
    (["--task", "denoise", "--arch", "auto", "--tile", "16"], "--arch auto chooses on the whole image and cannot "
                                                                "restore in tiles (--tile)"),
    (["--task", "denoise", "--arch", "auto", "--auto-candidates", "0"], "--auto-candidates must be at least 2"),
    (["--task", "denoise", "--arch", "auto", "--auto-budget", "0.5"], "--auto-budget 0.5 is below one fit"),
    (["--task", "denoise", "--auto-budget", "2"], "--auto-candidates and --auto-budget tune --arch auto only"),
    (["--task", "denoise", "--arch", "auto", "--auto-score", "holdout"], "reward 'holdout' needs a fit, so it cannot "
                                                                         "score the score rung"),
    (["--task", "denoise", "--arch", "auto", "--auto-reward", "psnr"], "--auto-reward psnr needs clean images; "
                                                                       "choose a no-reference reward, e.g. "
                                                                       "recorrupted"),
    (["--task", "denoise", "--arch", "auto", "--auto-reward", "psd"], "--auto-reward psd is a training-free score; "
                                                                      "give it as --auto-score psd"),
    (["--task", "denoise", "--arch", "auto", "--auto-reward", "cross-scale"], "reward 'cross-scale' self-validates "
                                                                              "in a way task 'denoise' does not"),
    (["--task", "denoise", "--auto-reward", "recorrupted"], "--auto-candidates and --auto-reward tune --arch auto "
                                                            "only"),
    (["--task", "sr", "--scale", "8", "--arch", "auto"], "cross-scale self-validation restores it from a x8 smaller "
                                                         "copy) is 16x16"),
    (["--task", "denoise", "--auto-include", "dip-skip"], "--auto-candidates and --auto-include tune --arch auto "
                                                          "only; add --arch auto or leave them out"),
    (["--task", "denoise", "--arch", "auto", "--auto-include", "dip-skip,nosuch"], "--auto-include: unknown "
                                                                                   "architecture 'nosuch'"),
    (["--task", "denoise", "--arch", "auto", "--auto-include", "dip-skip,"], "--auto-include 'dip-skip,': give "
                                                                             "presets or architecture files"),
    (["--task", "denoise", "--arch", "auto", "--auto-include", "dip-skip,nasdip-sr,nasdip-denoise,searched-sr,"
      "searched-denoise"], "--auto-include names 5 architectures, but its first selection rung fits 9 candidates"),
])
def test_what_cannot_work_is_refused_in_one_line_before_any_fit(runner, tmp_path, unrankable, args, message):
    noisy = image(tmp_path / "in.png", side=16)
    result = runner.invoke(cli, ["restore", noisy, *TINY, *args, "--out", str(tmp_path / "out")])  # args last: they win
    assert result.exit_code != 0 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list((tmp_path / "out").glob("*.png"))


def test_auto_fits_the_candidates_on_worker_processes(runner, tmp_path):
    """``--auto-workers 2``: the selection's search runs on the process executor and chooses what it chooses in
    this process (the candidates' fits are seeded alike wherever they run)."""
    noisy = image(tmp_path / "noisy.png")
    reports = {}
    for workers in ("1", "2"):
        result = restore(runner, noisy, "--task", "denoise", "--arch", "auto", "--auto-workers", workers, "--auto-candidates", "6",
                         "--out", str(tmp_path / workers), "--logdir", str(tmp_path / f"logs{workers}"), "--json")
        assert result.exit_code == 0, result.output
        reports[workers] = json.loads(result.output)
        config = json.loads((tmp_path / f"logs{workers}" / "noisy_auto" / "config.json").read_text())
        assert (config["executor"], config["workers"]) == (("serial", 1) if workers == "1" else ("process", 2))
    chosen = [resolve_arch(reports[workers]["arch_file"]) for workers in ("1", "2")]
    assert chosen[0].digest == chosen[1].digest and reports["1"]["psnr"] == reports["2"]["psnr"]


def test_auto_fits_the_architectures_it_is_told_to_include_unscored(runner, tmp_path):
    noisy = image(tmp_path / "noisy.png")
    result = restore(runner, noisy, "--task", "denoise", "--arch", "auto", "--auto-include", "searched-denoise",
                     "--out", str(tmp_path / "out"), "--logdir", str(tmp_path / "logs"))
    assert result.exit_code == 0, result.output
    assert "then 9 at 3 steps (1 of them unscored: searched-denoise) -> 3 at 10 steps fitted" in result.output
    meta = json.loads((tmp_path / "out" / "noisy_denoise_arch.json").read_text())["meta"]
    assert meta["included"] == ["searched-denoise"] and meta["scored"] == 2 * (9 - 1)
    trials = [json.loads(line) for line in (tmp_path / "logs" / "noisy_auto" / "trials.jsonl").read_text().splitlines()]
    searched = resolve_arch("searched-denoise").digest
    rungs = [trial["rung"] for trial in trials if trial["digest"] == searched]
    assert rungs and 0 not in rungs  # fitted, never scored
    assert len(trials) == 16 + 9 + 3
