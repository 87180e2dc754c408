"""Plugin options: defaults, unknown names, choices, finite numbers."""

from __future__ import annotations

import pytest

from nasdip.errors import UsageError
from nasdip.options import Option, resolve_values

OPTIONS = (Option("weight", float, 0.5, "A weight."), Option("mode", str, "a", "A mode.", choices=("a", "b")))


def test_defaults_are_overridden():
    assert resolve_values("task 'x'", OPTIONS, {"weight": 2.0}) == {"weight": 2.0, "mode": "a"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"weight": float("nan")}, "--weight must be a finite number, got nan"),
        ({"weight": float("-inf")}, "--weight must be a finite number, got -inf"),
        ({"mode": "c"}, "--mode must be one of a, b, got 'c'"),
        ({"colour": 1}, "task 'x' has no option --colour (its options: --weight, --mode)"),
    ],
)
def test_bad_values_are_usage_errors(values, message):
    with pytest.raises(UsageError) as caught:
        resolve_values("task 'x'", OPTIONS, values)
    assert str(caught.value) == message
