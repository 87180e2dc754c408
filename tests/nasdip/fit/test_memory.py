"""Memory estimates and the refusal of runs that would not fit."""

from __future__ import annotations

import pytest

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.errors import NasdipError
from nasdip.fit import memory
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig

#: Fitting settings of the estimates (only the device matters to them).
CPU = FitSettings(device="cpu")


def test_estimate_grows_with_pixels_and_width():
    task = registry.get("tasks", "denoise")()
    small, large = builtin_problem(task, 0, 64), builtin_problem(task, 0, 128)
    arch = presets()["nasdip-denoise"]
    a = memory.estimate_fit_bytes(FitRequest(task, small, arch, NetConfig(width=16), CPU))
    b = memory.estimate_fit_bytes(FitRequest(task, large, arch, NetConfig(width=16), CPU))
    c = memory.estimate_fit_bytes(FitRequest(task, large, arch, NetConfig(width=32), CPU))
    assert 3.0 < b / a < 4.5 and c > 1.8 * b


def suggested_tile(error: NasdipError) -> int:
    import re

    return int(re.search(r"use --tile (\d+)", str(error)).group(1))


def test_run_that_does_not_fit_is_refused_with_a_tile_that_fits(monkeypatch):
    free = 40 * 2**20
    monkeypatch.setattr(memory, "available_bytes", lambda device: free)
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, 0, 128)
    arch, config = presets()["nasdip-denoise"], NetConfig(width=16)
    with pytest.raises(NasdipError, match=r"needs about .* GiB but cpu has 0\.0 GiB free; use --tile \d+, a smaller "
                                          r"--width \(now 16\), or --crop") as caught:
        memory.check_fits_in_memory(FitRequest(task, problem, arch, config, CPU))
    side = suggested_tile(caught.value)
    # The advice works: that tile passes the check, the next larger one does not.
    assert memory.check_fits_in_memory(FitRequest(task, problem, arch, config, CPU), tile=side) <= 0.9 * free
    larger = memory.TILE_SIDES[memory.TILE_SIDES.index(side) - 1]
    if larger < 128:
        with pytest.raises(NasdipError, match=f"restoring a {larger}-pixel tile"):
            memory.check_fits_in_memory(FitRequest(task, problem, arch, config, CPU), tile=larger)


def test_a_tile_too_large_is_refused_before_fitting(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 40 * 2**20)
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, 0, 128)
    with pytest.raises(NasdipError, match=r"restoring a 96-pixel tile \(96x96\) .* use --tile \d+"):
        memory.check_fits_in_memory(FitRequest(task, problem, presets()["nasdip-denoise"], NetConfig(width=16), CPU), tile=96)


def test_restore_refuses_before_writing(runner, monkeypatch, tmp_path):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**20)
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "64", "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "use a smaller --width (now 128) or --crop (no tile size fits either)" in result.output
    assert not any(tmp_path.iterdir())
