"""The end-to-end benchmark's bookkeeping: run names and the paired comparison with random search."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "search_quality", Path(__file__).resolve().parents[2] / "benchmarks" / "search_quality.py")
search_quality = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search_quality)


def test_run_names_keep_the_first_runs_names():
    assert search_quality.run_name("rl", 0) == "rl"
    assert search_quality.run_name("rl", 2) == "rl-seed2"


def test_paired_with_random_matches_seeds():
    rows = [{"arch": "dip-skip", "psnr": [29.0, 30.0]},
            {"searcher": "random", "seed": 0, "psnr": [29.0, 31.0]},   # mean 30.0
            {"searcher": "random", "seed": 1, "psnr": [30.0, 30.0]},   # mean 30.0
            {"searcher": "rl", "seed": 0, "psnr": [30.0, 31.0]},       # mean 30.5
            {"searcher": "rl", "seed": 1, "psnr": [29.5, 30.0]},       # mean 29.75
            {"searcher": "rl", "seed": 2, "psnr": [40.0, 40.0]},       # no random seed 2: not paired
            {"searcher": "evolution", "seed": 5, "psnr": [30.0, 30.0]}]
    paired = search_quality.paired_with_random(rows)
    assert paired["rl"] == pytest.approx([0.5, -0.25])
    assert paired["evolution"] == []
    assert "random" not in paired


def test_paired_report_line(capsys):
    rows = [{"searcher": "random", "seed": 0, "psnr": [30.0]}, {"searcher": "rl", "seed": 0, "psnr": [30.25]}]
    search_quality.report_paired(rows)
    assert capsys.readouterr().out.strip() == \
        "rl - random, paired by search seed: mean +0.25 dB, ahead in 1 of 1 (+0.25)"
