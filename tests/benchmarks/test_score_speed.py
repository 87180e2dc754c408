"""benchmarks/score_speed.py end to end at toy sizes: it scores, breaks a candidate's time down, and times
several processes at once (its numbers are measurements, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "score_speed.py"


def test_score_speed_reports_every_score_and_the_processes_rate():
    done = subprocess.run([sys.executable, str(SCRIPT), "--candidates", "4", "--width", "4", "--threads", "1",
                           "--workers", "2", "--score", "psd", "--score", "lowpass"],
                          capture_output=True, text=True, timeout=600, check=True)
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"denoise, 2 crops of 64 px, width 4, 2 noise inputs, 4 random nasdip architectures "
                        r"\([1-4] cells\) in a score round's order, 1 torch threads", lines[0]), lines[0]
    assert re.search(r"build afresh [\d.]+ ms, rebuild \+ re-initialise [\d.]+ ms; forward pass as scored "
                     r"[\d.]+ ms, whole forward pass [\d.]+ ms", lines[1])
    for name, line in zip(("psd", "lowpass"), lines[2:], strict=True):
        assert re.fullmatch(rf"  {name}\s+[\d.]+ candidates/s \([\d.]+ ms each\); 2 processes of 1 thread:\s+"
                            r"[\d.]+ candidates/s", line), line


def test_proposal_order_is_named():
    done = subprocess.run([sys.executable, str(SCRIPT), "--candidates", "3", "--width", "4", "--threads", "1",
                           "--score", "psd", "--proposal-order"], capture_output=True, text=True, timeout=600, check=True)
    assert " in the order drawn, " in done.stdout.splitlines()[0]
