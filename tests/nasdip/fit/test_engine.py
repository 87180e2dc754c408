"""The fitting engine restores real images, is deterministic, and survives divergence."""

from __future__ import annotations

import math
import shutil
import warnings

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.engine import fit
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig

NARROW = NetConfig(width=16)


@pytest.fixture(scope="module")
def denoise_problem():
    task = registry.get("tasks", "denoise")()
    return task, builtin_problem(task, seed=0, crop=80)


def test_denoising_a_real_photo_gains_several_db(denoise_problem):
    # Calibration (2 CPU cores, width 16, 80x80 crop, 400 steps): +6.7 dB (seed 0), +6.2 dB (seed 1).
    task, problem = denoise_problem
    settings = task.settings().replace(iters=400, device="cpu")
    result = fit(FitRequest(task, problem, presets()["dip-skip"], NARROW, settings))
    noisy = task.metrics(problem.observation, problem.clean)["psnr"]
    assert result.metrics["psnr"] > noisy + 4.0
    assert result.metrics["psnr_max"] >= result.metrics["psnr"]
    assert result.output.shape == problem.clean.shape and result.iters == 400
    assert len(result.losses) == 400 and all(math.isfinite(v) for v in result.losses)


def test_same_seed_same_output(denoise_problem):
    task, problem = denoise_problem
    settings = task.settings().replace(iters=30, device="cpu", seed=5)
    first = fit(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=8), settings))
    second = fit(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=8), settings))
    assert torch.equal(first.output, second.output)
    assert first.losses == second.losses
    third = fit(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=8), settings.replace(seed=6)))
    assert not torch.equal(first.output, third.output)


class Sabotaged:
    """Wraps a task and corrupts its loss at chosen steps."""

    def __init__(self, task, corrupt):
        self.task, self.corrupt, self.calls = task, corrupt, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def loss(self, output, problem):
        self.calls += 1
        loss = self.task.loss(output, problem)
        return self.corrupt(self.calls, loss)


def test_nan_loss_is_rolled_back_and_the_run_ends_finite(denoise_problem):
    task, problem = denoise_problem
    sabotaged = Sabotaged(task, lambda step, loss: loss * math.nan if step in (37, 38) else loss)
    settings = task.settings().replace(iters=100, device="cpu", sync_every=10)
    result = fit(FitRequest(sabotaged, problem, presets()["dip-skip"], NetConfig(width=8), settings))
    assert result.rollbacks == 1
    assert torch.isfinite(result.output).all()
    assert math.isfinite(result.metrics["psnr"])
    assert math.isnan(result.losses[36]) and math.isfinite(result.losses[-1])


def test_nan_at_the_last_step_still_ends_finite(denoise_problem):
    task, problem = denoise_problem
    task_without_average = Sabotaged(task, lambda step, loss: loss * math.nan if step == 40 else loss)
    settings = FitSettings(iters=40, device="cpu", sync_every=10, reg_noise=0.0)
    result = fit(FitRequest(task_without_average, problem, presets()["dip-skip"], NetConfig(width=8), settings))
    assert result.rollbacks == 1 and torch.isfinite(result.output).all()


def test_loss_explosion_triggers_the_guard(denoise_problem):
    task, problem = denoise_problem
    sabotaged = Sabotaged(task, lambda step, loss: loss * 1e4 if step == 30 else loss)
    settings = task.settings().replace(iters=40, device="cpu", sync_every=10)
    assert fit(FitRequest(sabotaged, problem, presets()["dip-skip"], NetConfig(width=8), settings)).rollbacks == 1


def test_callback_stops_early_and_sees_metrics(denoise_problem):
    task, problem = denoise_problem
    seen = []

    def stop_after_two(step, metrics):
        seen.append((step, set(metrics)))
        return len(seen) == 2

    settings = task.settings().replace(iters=1000, device="cpu", sync_every=5)
    result = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings, callbacks=(stop_after_two,)))
    assert result.iters == 10
    assert seen == [(5, {"loss", "psnr"}), (10, {"loss", "psnr"})]


def test_bf16_path_runs_on_cpu(denoise_problem):
    task, problem = denoise_problem
    settings = task.settings().replace(iters=20, device="cpu", precision="bf16")
    result = fit(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=8), settings))
    assert result.output.dtype == torch.float32 and torch.isfinite(result.output).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_on_gpu(denoise_problem):
    task, problem = denoise_problem
    for precision in ("fp32", "bf16"):
        settings = task.settings().replace(iters=50, device="cuda", precision=precision)
        result = fit(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=16), settings))
        assert result.device.startswith("cuda") and torch.isfinite(result.output).all()


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("clang++") is None,
                    reason="torch.compile on CPUs needs a C++ compiler")
def test_compiled_fit_matches_the_eager_fit(denoise_problem):
    task, problem = denoise_problem
    settings = task.settings().replace(iters=6, device="cpu", precision="fp32", ema=None)
    tiny = NetConfig(width=4, depth=2)
    eager = fit(FitRequest(task, problem, presets()["dip-skip"], tiny, settings))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager would hide what is tested here
        compiled = fit(FitRequest(task, problem, presets()["dip-skip"], tiny, settings.replace(compile=True)))
    assert compiled.compiled and not eager.compiled
    assert compiled.losses[0] == pytest.approx(eager.losses[0], rel=1e-5)  # same initialisation, same first step
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-2)  # rounding differences grow step by step
    assert (compiled.output - eager.output).abs().max() < 1e-2


def test_a_failed_compilation_falls_back_to_exactly_the_eager_fit(denoise_problem, monkeypatch):
    task, problem = denoise_problem
    settings = task.settings().replace(iters=8, device="cpu", seed=2)
    eager = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings))

    def no_compiler(network, **options):
        def call(*args):
            raise RuntimeError("C++ compiler not found\ndetails")
        return call

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(RuntimeWarning, match=r"^torch.compile failed \(RuntimeError: C\+\+ compiler not found\); "
                                            r"fitting without it$"):
        fallback = fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8), settings.replace(compile=True)))
    assert not fallback.compiled
    assert torch.equal(fallback.output, eager.output) and fallback.losses == eager.losses
