"""The benchmarks' rank statistics against hand-computed values."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "ranking", Path(__file__).resolve().parents[2] / "benchmarks" / "ranking.py")
ranking = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ranking)


def test_kendall_tau_of_known_orders():
    assert ranking.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert ranking.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # One swapped pair of six: (5 - 1) / 6.
    assert ranking.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_kendall_tau_b_with_ties():
    # x = [1, 1, 2], y = [1, 2, 3]: concordant 2, discordant 0, one pair tied in x only:
    # tau-b = 2 / sqrt((2 + 1) * 2).
    assert ranking.kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(ranking.kendall_tau([1, 1], [2, 2]))
    with pytest.raises(ValueError):
        ranking.kendall_tau([1], [1, 2])


def test_regret_of_a_pick():
    assert ranking.regret([3, 1, 2], [10, 12, 11]) == 2  # picks the first (10) instead of 12
    assert ranking.regret([1, 3, 2], [10, 12, 11]) == 0
