"""benchmarks/gpu.sh: every step of the prepared GPU check runs on the CPU at toy sizes (--cpu-dry-run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("tests", "speed-auto", "speed-fp32", "packed", "packed-grouped", "search", "time-to-result", "graphs")


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash and timeout")
def test_cpu_dry_run_runs_every_step_and_prints_one_summary(tmp_path):
    nasdip = Path(sys.executable).with_name("nasdip")
    env = {**os.environ, "PYTHON": sys.executable, "NASDIP": str(nasdip), "DIR": str(tmp_path / "check")}
    done = subprocess.run(["bash", "benchmarks/gpu.sh", "--cpu-dry-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("===== SUMMARY (cpu) =====", 1)[1]
    for name in STEPS:
        assert f"{name}: ok in" in summary
    assert "seconds per fitting step" in summary and "fits of 500 steps per minute" in summary
    assert "2 candidates evaluated (0 failed)" in summary
    assert "  DIP reference    mean" in summary and "  nasdip fast      mean" in summary
    assert "CUDA graphs on: 10 steps" in summary and "CUDA graphs off: 10 steps" in summary
    assert "(graphed: False)" in summary  # the CPU ignores the option
    assert (tmp_path / "check" / "summary.txt").read_text() == done.stdout[done.stdout.index("===== SUMMARY"):]


def test_usage_and_missing_cuda_are_clear(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "DIR": str(tmp_path / "check")}
    wrong = subprocess.run(["bash", "benchmarks/gpu.sh", "--fast"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "usage: bash benchmarks/gpu.sh [--cpu-dry-run]" in wrong.stderr
    import torch

    if not torch.cuda.is_available():
        missing = subprocess.run(["bash", "benchmarks/gpu.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert missing.returncode == 1 and "CUDA is not available here; use --cpu-dry-run" in missing.stderr
