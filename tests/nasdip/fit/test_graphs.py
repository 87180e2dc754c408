"""CUDA-graph steps: on a GPU a graphed fit follows the eager fit (same jitter, same updates), falls back to eager
steps when capturing fails, and survives the divergence guard; on a CPU the option changes nothing."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit import graphs
from nasdip.fit.engine import Fitter, fit
from nasdip.fit.guard import DivergenceGuard
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.nn.config import NetConfig

NARROW = NetConfig(width=16)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def denoising():
    task = registry.get("tasks", "denoise")()
    return task, builtin_problem(task, seed=0, crop=64)


def request(denoising, device: str, **changes) -> FitRequest:
    task, problem = denoising
    settings = task.settings().replace(**{"iters": 60, "device": device, "precision": "fp32", **changes})
    return FitRequest(task, problem, presets()["dip-skip"], NARROW, settings)


def test_on_a_cpu_the_option_changes_nothing(denoising):
    """The CPU path is the eager one whatever the option says: no graph, Adam as before."""
    fitter = Fitter(request(denoising, "cpu", cuda_graphs=True))
    assert fitter.graphed is None and fitter.cuda_graphs is False
    assert fitter.optimizer.param_groups[0]["capturable"] is False
    result = fit(request(denoising, "cpu", iters=5, cuda_graphs=True))
    assert result.cuda_graphs is False


@pytest.mark.gpu
@cuda
def test_a_graphed_fit_follows_the_eager_fit(denoising):
    eager = fit(request(denoising, "cuda", cuda_graphs=False))
    graphed = fit(request(denoising, "cuda", cuda_graphs=True))
    assert graphed.cuda_graphs is True and eager.cuda_graphs is False
    # Same initialisation and jitter; capturable Adam and cuDNN reorder sums only: the curves stay together.
    assert graphed.losses == pytest.approx(eager.losses, rel=0.02)
    assert abs(graphed.metrics["psnr"] - eager.metrics["psnr"]) < 0.1
    assert torch.allclose(graphed.output, eager.output, atol=0.02)


@pytest.mark.gpu
@cuda
def test_a_graphed_fit_with_stopping_bf16_and_the_average_runs_to_a_sound_restoration(denoising):
    task, problem = denoising
    result = fit(request(denoising, "cuda", cuda_graphs="auto", precision="bf16", stop="auto", holdout=0.1,
                         stop_window=10, stop_patience=20))
    noisy = task.metrics(problem.observation, problem.clean)["psnr"]
    assert result.cuda_graphs is True and all(map(math.isfinite, result.losses))
    assert result.metrics["psnr"] > noisy - 6.0 and math.isfinite(result.metrics["holdout_psnr"])


@pytest.mark.gpu
@cuda
def test_a_failed_capture_warns_and_continues_eagerly_from_the_same_state(denoising, monkeypatch):
    def fail(self):
        raise RuntimeError("operation not permitted when stream is capturing")

    eager = fit(request(denoising, "cuda", cuda_graphs=False))
    monkeypatch.setattr(graphs.GraphedStep, "_capture", fail)
    with pytest.warns(RuntimeWarning, match=r"^CUDA graph capture failed \(RuntimeError: operation not permitted"):
        fallen = fit(request(denoising, "cuda", cuda_graphs=True))
    assert fallen.cuda_graphs is False and fallen.iters == 60
    assert fallen.losses == pytest.approx(eager.losses, rel=0.02)


@pytest.mark.gpu
@cuda
def test_a_rollback_restores_the_state_the_graph_reads(denoising, monkeypatch):
    """The guard rolls back at its third check (forced); the graph steps on from the restored state exactly as
    the eager fit does from its copy."""
    check = DivergenceGuard.check

    def roll_back_once(self, losses):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 3:
            self.snapshot.restore()
            self.rollbacks += 1
            return False
        return check(self, losses)

    monkeypatch.setattr(DivergenceGuard, "check", roll_back_once)
    eager = fit(request(denoising, "cuda", cuda_graphs=False, sync_every=10))
    graphed = fit(request(denoising, "cuda", cuda_graphs=True, sync_every=10))
    assert eager.rollbacks == graphed.rollbacks == 1 and graphed.cuda_graphs is True
    assert graphed.losses == pytest.approx(eager.losses, rel=0.02)
