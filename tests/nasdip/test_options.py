"""Plugin options: defaults, unknown names, choices, finite numbers, ranges (declared by every numeric option of
the built-in and example plugins); the shared width and step types."""

from __future__ import annotations

import re

import click
import pytest

from nasdip.errors import UsageError
from nasdip.options import (
    MAX_STEPS,
    NETWORK_WIDTH,
    STEPS,
    FiniteFloat,
    Option,
    checked,
    describe_range,
    in_range,
    is_numeric,
    resolve_values,
)

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


RANGED = (
    Option("sigma", float, 25.0, "Noise.", min=0, min_open=True, max=255),
    Option("drop", float, 0.5, "Fraction dropped.", min=0, max=1, max_open=True),
    Option("hidden", int, 64, "State size.", min=1),
    Option("decay", float, 0.9, "Decay.", max=1),
    Option("steps", int, None, "Steps (default: the search's).", min=1, max=10),
)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sigma": 0}, "--sigma must be in the range 0<x<=255, got 0.0"),
        ({"sigma": 255.5}, "--sigma must be in the range 0<x<=255, got 255.5"),
        ({"drop": 1}, "--drop must be in the range 0<=x<1, got 1.0"),
        ({"drop": -0.1}, "--drop must be in the range 0<=x<1, got -0.1"),
        ({"hidden": 0}, "--hidden must be in the range x>=1, got 0"),
        ({"hidden": "-5"}, "--hidden must be in the range x>=1, got -5"),
        ({"decay": 1.5}, "--decay must be in the range x<=1, got 1.5"),
        ({"steps": 11}, "--steps must be in the range 1<=x<=10, got 11"),
    ],
)
def test_values_outside_an_options_range_are_usage_errors_naming_the_range(values, message):
    with pytest.raises(UsageError) as caught:
        resolve_values("task 'x'", RANGED, values)
    assert str(caught.value) == message


def test_searcher_options_are_named_as_keys():
    with pytest.raises(UsageError, match=r"^hidden must be in the range x>=1, got 0$"):
        resolve_values("searcher 'rl'", RANGED, {"hidden": 0}, as_flags=False)


def test_the_ends_of_a_range_are_open_or_closed_as_declared():
    values = resolve_values("task 'x'", RANGED, {"sigma": 255, "drop": 0, "hidden": 1, "decay": 1, "steps": 10})
    assert values == {"sigma": 255.0, "drop": 0.0, "hidden": 1, "decay": 1.0, "steps": 10}
    assert resolve_values("task 'x'", RANGED, {})["steps"] is None  # an unset default is the plugin's decision


@pytest.mark.parametrize(
    ("low", "high", "low_open", "high_open", "text", "inside", "outside"),
    [
        (0, 255, True, False, "0<x<=255", (1e-9, 255), (0, 255.1)),
        (0, 1, False, True, "0<=x<1", (0, 0.999), (-1e-9, 1)),
        (1, None, False, False, "x>=1", (1, 1e9), (0.999,)),
        (None, 1, False, True, "x<1", (-1e9, 0.5), (1,)),
        (None, None, False, False, "", (-1e300, 1e300), ()),
    ],
)
def test_describe_range_and_in_range_agree(low, high, low_open, high_open, text, inside, outside):
    assert describe_range(low, high, low_open, high_open) == text
    assert all(in_range(value, low, high, low_open, high_open) for value in inside)
    assert not any(in_range(value, low, high, low_open, high_open) for value in outside)


def test_numeric_types_are_recognised():
    assert is_numeric(int) and is_numeric(float) and is_numeric(click.IntRange(1)) and is_numeric(FiniteFloat())
    assert not is_numeric(str) and not is_numeric(bool) and not is_numeric(click.Choice(["a"]))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"type": str, "default": "a", "min": 0}, TypeError, "option 'o': only numeric options take min/max"),
        ({"type": int, "default": 5, "min": 10, "max": 1}, ValueError, "option 'o': min 10 is above max 1"),
        ({"type": float, "default": 0.0, "min": 0, "min_open": True}, ValueError,
         "option 'o': default 0.0 lies outside x>0"),
    ],
)
def test_an_inconsistent_declaration_is_a_plugin_bug(arguments, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        Option("o", help="An option.", **arguments)


def numeric_options() -> list[tuple[str, Option]]:
    """Every numeric option of the built-in tasks, executors and searchers and of the example plugin's task."""
    import sys
    from pathlib import Path

    from nasdip import registry

    example = Path(__file__).resolve().parents[2] / "examples" / "nasdip-example"
    sys.path.insert(0, str(example))
    try:
        from nasdip_example.task import Deblurring
    finally:
        sys.path.remove(str(example))
    owners = [(f"{kind} {name}", entry.obj) for kind in ("tasks", "executors", "searchers")
              for name, entry in registry.entries(kind).items()] + [("example deblur", Deblurring)]
    return [(owner, option) for owner, obj in owners for option in obj.options if option.numeric]


def test_every_numeric_plugin_option_declares_its_range():
    options = numeric_options()
    assert {"sigma", "drop", "scale", "hidden", "temperature", "log_every", "process_threads", "blur"} <= {
        option.name for _, option in options}
    unbounded = [f"{owner}: {option.name}" for owner, option in options if not option.has_range]
    assert not unbounded, unbounded


def test_checked_words_a_bad_value_like_click():
    assert checked(NETWORK_WIDTH, 8, "--width") == 8
    with pytest.raises(UsageError, match=r"^Invalid value for '--width': 6 is not a multiple of 4 \(accepted: 4, 8, "
                                         r"12, \.\.\. up to 1024\)$"):
        checked(NETWORK_WIDTH, 6, "--width")
    with pytest.raises(UsageError, match=rf"^Invalid value for '--iters': 0 is not in the range 1<=x<={MAX_STEPS}\.$"):
        checked(STEPS, 0, "--iters")


@pytest.mark.parametrize(("value", "ok"), [(4, True), (128, True), (1024, True), (0, False), (5, False),
                                           (1028, False), (-4, False)])
def test_network_widths_are_multiples_of_4_within_bounds(value, ok):
    if ok:
        assert NETWORK_WIDTH.convert(value, None, None) == value
    else:
        with pytest.raises(click.BadParameter):
            NETWORK_WIDTH.convert(value, None, None)
