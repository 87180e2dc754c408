"""Speed machinery: timings of both loops, bicubic-as-convolution, grouped convolutions under autocast."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.fit.device import BF16_MIN_WORK, bf16_supported, resolve_precision
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.nn.cell import GroupedConv2d, Interpolate, use_native_interpolation
from nasdip.nn.config import NetConfig
from nasdip.report.speed import time_engine, time_plain
from nasdip.report.timing import CLEAR_REFS, peak_memory, reset_peak_memory


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (2, 5, 13, 7)])
def test_bicubic_convolution_matches_interpolate(shape):
    x = torch.rand(*shape, requires_grad=True)
    fast, native = Interpolate("bicubic"), Interpolate("bicubic", native=True)
    torch.testing.assert_close(fast(x), native(x), atol=2e-6, rtol=0)
    gradient = torch.rand(shape[0], shape[1], 2 * shape[2], 2 * shape[3])
    (fast_grad,) = torch.autograd.grad(fast(x), x, gradient)
    (native_grad,) = torch.autograd.grad(native(x), x, gradient)
    torch.testing.assert_close(fast_grad, native_grad, atol=2e-5, rtol=0)


def test_native_interpolation_switch():
    net = use_native_interpolation(torch.nn.Sequential(Interpolate("bicubic"), Interpolate("nearest")))
    assert all(module.native for module in net if isinstance(module, Interpolate))


def test_grouped_convolution_stays_fp32_under_cpu_autocast():
    conv = GroupedConv2d(8, 8, 3, padding=1, groups=8, bias=False)
    plain = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
    x = torch.rand(1, 8, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(x).dtype == torch.float32
        assert plain(x).dtype == torch.bfloat16
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=1, groups=8))


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if bf16_supported(cpu) else "fp32")
    native = "bf16" if bf16_supported(cpu) else "fp32"
    assert resolve_precision("auto", cpu, work=BF16_MIN_WORK) == native
    assert resolve_precision("auto", cpu, work=64 * 64 * 16) == "fp32"  # small steps run faster in fp32
    assert resolve_precision("bf16", cpu, work=1) == "bf16"


def test_both_loops_are_timed():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = task.settings().replace(device="cpu")
    config = NetConfig(width=8)
    for timing in (time_plain(FitRequest(task, problem, presets()["nasdip-sr"], config, settings), warmup=1, windows=3, window=2),
                   time_engine(FitRequest(task, problem, presets()["nasdip-sr"], config, settings), warmup=1, windows=3, window=2)):
        assert len(timing.samples) == 3 and all(s > 0 for s in timing.samples)
        assert timing.spread[0] <= timing.median <= timing.spread[1] and timing.peak_bytes > 0


def test_bench_speed_json(runner):
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--speed", "--size", "32", "--width", "8",
                                 "--arch", "dip-skip", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["rows"]
    assert row["arch"] == "dip-skip" and row["size"] == 32
    assert row["speedup"] == pytest.approx(row["plain"]["median_s"] / row["nasdip"]["median_s"])


def test_bench_speed_compile_times_the_compiled_engine_beside_the_eager_one(runner, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda network, **options: compiled.append(network) or network)
    arguments = ["bench", "--task", "denoise", "--speed", "--size", "32", "--width", "8", "--arch", "dip-skip",
                 "--device", "cpu", "--compile"]
    (row,) = json.loads(runner.invoke(cli, [*arguments, "--json"]).output)["rows"]
    assert len(compiled) == 1 and row["compiled"]["median_s"] > 0
    assert row["compiled_speedup"] == pytest.approx(row["plain"]["median_s"] / row["compiled"]["median_s"])
    header = runner.invoke(cli, arguments).output.splitlines()[1]
    assert header.split()[-4:] == ["MiB", "nasdip", "compiled", "speed-up"]


def test_bench_without_images_or_speed_is_a_usage_error(runner):
    result = runner.invoke(cli, ["bench", "--task", "denoise"])
    assert result.exit_code == 2 and "--images DIR is required" in result.output


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_speed_on_gpu():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=128)
    settings = task.settings().replace(device="cuda")
    timing = time_engine(FitRequest(task, problem, presets()["nasdip-sr"], NetConfig(width=32), settings))
    assert timing.precision in ("bf16", "fp32") and timing.peak_bytes > 0


def test_cpu_peak_memory_is_reset_between_timings():
    """The resident high-water mark falls back after a reset, so each timing reports its own peak."""
    if not CLEAR_REFS.exists():
        pytest.skip("needs Linux /proc/self/clear_refs")
    cpu = torch.device("cpu")
    block = torch.ones(100 * 2**20)  # 400 MiB, touched
    del block
    before = peak_memory(cpu)
    reset_peak_memory(cpu)
    assert peak_memory(cpu) < before - 300 * 2**20
