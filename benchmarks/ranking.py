"""Rank agreement for the benchmarks: Kendall's tau-b and the regret of a ranking's pick."""

from __future__ import annotations

import math
from collections.abc import Sequence


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    """Kendall's tau-b of two equally long score lists (ties in either list handled as tau-b does)."""
    if len(first) != len(second):
        raise ValueError("kendall_tau needs two lists of the same length")
    concordant = discordant = ties_first = ties_second = 0
    for i in range(len(first)):
        for j in range(i + 1, len(first)):
            a, b = first[i] - first[j], second[i] - second[j]
            if a == 0 and b == 0:
                continue
            if a == 0:
                ties_first += 1
            elif b == 0:
                ties_second += 1
            elif (a > 0) == (b > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_first) * (concordant + discordant + ties_second))
    return (concordant - discordant) / denominator if denominator else math.nan


def regret(predicted: Sequence[float], truth: Sequence[float]) -> float:
    """How much worse (in ``truth``'s units) the item ``predicted`` ranks first is than the best by ``truth``."""
    pick = max(range(len(predicted)), key=lambda i: predicted[i])
    return max(truth) - truth[pick]
