"""Each hook exercised through a plugin registered in a fixture (registration and lifecycle hooks)."""

from __future__ import annotations

import json

import pytest
import torch
from kornia.filters import gaussian_blur2d

from nasdip import hookimpl
from nasdip.cli import cli
from nasdip.fit.problem import Problem
from nasdip.fit.settings import FitSettings
from nasdip.fit.task import Task
from nasdip.options import Option


class Recorder:
    """A logger plugin that records every lifecycle call."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def run_started(self, run):
        self.calls.append(("run_started", run.kind, run.tag))

    @hookimpl
    def fit_progress(self, run, step, metrics):
        self.calls.append(("fit_progress", step, dict(metrics)))

    @hookimpl
    def fit_finished(self, run, result):
        self.calls.append(("fit_finished", run.tag, result.iters, dict(result.metrics)))

    @hookimpl
    def run_finished(self, run):
        self.calls.append(("run_finished", run.kind))

    def named(self, hook):
        return [call for call in self.calls if call[0] == hook]


@pytest.fixture
def recorder(register_plugin):
    return register_plugin(Recorder(), "recorder")


@pytest.fixture
def restored(runner, recorder, tmp_path):
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "50", "--width", "8",
                                 "--quiet", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_hook_run_started(restored, recorder):
    assert recorder.calls[0] == ("run_started", "restore", "grace_hopper/nasdip-denoise")


def test_hook_fit_progress(restored, recorder):
    progress = recorder.named("fit_progress")
    assert [call[1] for call in progress] == list(range(5, 51, 5))  # every log_every (5) steps
    assert set(progress[-1][2]) == {"loss", "psnr"}
    assert len({call[2]["loss"] for call in progress}) == len(progress)  # each step's own value


def test_hook_fit_finished(restored, recorder):
    (call,) = recorder.named("fit_finished")
    assert call[1:3] == ("grace_hopper/nasdip-denoise", 50)
    assert call[3]["psnr"] == pytest.approx(restored["psnr"])


def test_hook_run_finished(restored, recorder):
    assert recorder.calls[-1] == ("run_finished", "restore")


def test_hook_run_finished_even_when_the_run_fails(runner, recorder, tmp_path, monkeypatch):
    from nasdip.tasks.denoise import Denoising

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Denoising, "fit", broken)
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert recorder.calls[-1] == ("run_finished", "restore")


class Deblurring(Task):
    """Deblurring: a third-party task whose operator is a kornia Gaussian blur."""

    name = "deblur"
    help = "Gaussian deblurring (test plugin)"
    options = (Option("blur", float, 1.5, "Blur sigma in pixels."),)
    baseline_name = "blurred"
    default_arch = "dip-skip"

    def settings(self):
        return FitSettings(iters=100, lr=0.01, reg_noise=0.01)

    def operator(self, output, problem):
        sigma = self.values["blur"]
        return gaussian_blur2d(output, (9, 9), (sigma, sigma))

    def degrade(self, clean, generator, name="image"):
        return Problem(self.operator(clean, None), tuple(clean.shape[-2:]), clean=clean, name=name)

    def observe(self, observation, info=None, name="image"):
        return Problem(observation, tuple(observation.shape[-2:]), name=name, info=info)


class DeblurPlugin:
    @hookimpl
    def register_tasks(self, register):
        register(Deblurring)


def test_hook_register_tasks(runner, register_plugin, tmp_path):
    register_plugin(DeblurPlugin(), "deblur-plugin")
    result = runner.invoke(cli, ["restore", "--task", "deblur", "--blur", "2.0", "--crop", "32", "--iters", "60",
                                 "--width", "8", "--quiet", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["task"] == "deblur" and report["options"] == {"blur": 2.0}
    # Calibration (60 steps, width 8, seeds 0 and 1): 24.36 / 24.10 dB (the blurred input: 26.65 dB).
    assert report["arch"] == "dip-skip" and report["blurred_psnr"] == pytest.approx(26.65, abs=0.01)
    assert report["psnr"] > 22.0
    assert torch.tensor(report["psnr"]).isfinite()
