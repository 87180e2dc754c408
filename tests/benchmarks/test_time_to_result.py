"""benchmarks/time_to_result.py at toy sizes (--quick): one table per task, a row per run and image and a mean."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "time_to_result", Path(__file__).resolve().parents[2] / "benchmarks" / "time_to_result.py")
time_to_result = importlib.util.module_from_spec(spec)
sys.modules["time_to_result"] = time_to_result  # its dataclass looks its module up
spec.loader.exec_module(time_to_result)

ROW = re.compile(r"  (DIP reference|nasdip default|nasdip fast) +(\S+) +(\d+) +([\d.]+)(\*?) +(\S+) +([\d.]+)x")


def test_quick_tables_have_every_run_per_image_and_a_mean(capsys):
    time_to_result.main(["--quick", "--full", "--task", "denoise", "--task", "sr"])
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and ("native bf16" in out.splitlines()[0])
    tables = out.split("\n")[1:]
    headers = [line for line in tables if "crops, width 8" in line]
    assert [line.split(":")[0] for line in headers] == ["denoise (sigma=25.0)", "sr (scale=4)"]
    rows = [ROW.match(line) for line in tables if line.startswith("  ") and "speed-up" not in line]
    assert all(rows) and len(rows) == 2 * 3 * 2  # two tasks, three runs, one image and the mean
    for task in range(2):
        block = rows[task * 6:(task + 1) * 6]
        assert [row[1] for row in block] == [label for label in ("DIP reference", "nasdip default", "nasdip fast")
                                             for _ in range(2)]
        assert [row[2] for row in block][1::2] == ["mean"] * 3
        reference = float(block[0][4])
        for row in block:
            assert int(row[3]) == 60 and row[5] == ""  # --quick's 60 steps; --full: measured, not extrapolated
            assert 5 < float(row[6]) < 50  # a PSNR for every run, the reference's at its end included
            # the speed-up is the reference's seconds over the run's, both printed to 0.1 s and the ratio to 0.01
            seconds = float(row[4])
            low = (reference - 0.05) / (seconds + 0.05) - 0.005
            high = (reference + 0.05) / max(seconds - 0.05, 1e-9) + 0.005
            assert low <= float(row[7]) <= high


def test_the_reference_is_extrapolated_without_full(capsys):
    time_to_result.main(["--quick", "--task", "denoise", "--window", "3"])
    lines = capsys.readouterr().out.splitlines()
    (reference,) = [line for line in lines if line.startswith("  DIP reference  ") and "mean" not in line]
    match = ROW.match(reference)
    assert match[3] == "60" and match[5] == "*" and match[6] == "-"  # extrapolated, no PSNR before the end
    assert "extrapolated from 3 timed steps" in lines[1]
