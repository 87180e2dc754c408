"""Fitting settings: one-line errors for nonsense values, ``replace`` ignoring ``None``, a ``to_dict`` round trip,
and ``with_stopping`` adding the default held-out fraction where a detector or reward needs one."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from nasdip.errors import NasdipError
from nasdip.fit.settings import PRECISIONS, FitSettings
from nasdip.fit.stopping import DEFAULT_HOLDOUT, StopConfig


def test_settings_validation():
    with pytest.raises(NasdipError, match="precision"):
        FitSettings(precision="fp8")
    with pytest.raises(NasdipError, match="iters"):
        FitSettings(iters=0)
    with pytest.raises(NasdipError, match="ema"):
        FitSettings(ema=1.5)


@pytest.mark.parametrize(("changes", "message"), [
    ({"iters": 0}, "iters must be at least 1, got 0"),
    ({"iters": -3}, "iters must be at least 1, got -3"),
    ({"sync_every": 0}, "sync_every and log_every must be at least 1"),
    ({"log_every": 0}, "sync_every and log_every must be at least 1"),
    ({"iters": 10**20}, "iters must be at most 1,000,000, got 100,000,000,000,000,000,000"),
    ({"lr": 0.0}, "the learning rate must be a finite number in (0, 10], got 0.0"),
    ({"lr": -0.01}, "the learning rate must be a finite number in (0, 10], got -0.01"),
    ({"lr": math.nan}, "the learning rate must be a finite number in (0, 10], got nan"),
    ({"lr": math.inf}, "the learning rate must be a finite number in (0, 10], got inf"),
    ({"lr": 1e300}, "the learning rate must be a finite number in (0, 10], got 1e+300"),
    ({"precision": "fp8"}, "precision must be one of auto, fp32, bf16, got 'fp8'"),
    ({"precision": "FP32"}, "precision must be one of auto, fp32, bf16, got 'FP32'"),
    ({"ema": 1.0}, "ema must be in [0, 1), got 1.0"),
    ({"ema": -0.1}, "ema must be in [0, 1), got -0.1"),
    ({"stop": "sometime"}, "stop rule must be one of iters, auto, wmv, holdout, got 'sometime'"),
    ({"compile": "on"}, "compile must be auto, True or False, got 'on'"),
    ({"cuda_graphs": 1}, "cuda_graphs must be auto, True or False, got 1"),
])
def test_nonsense_settings_are_one_line_errors(changes, message):
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        FitSettings(**changes)


@pytest.mark.parametrize("changes", [{"ema": 0.0}, {"ema": 0.999}, {"ema": None}, {"iters": 1},
                                     {"precision": "bf16"}, {"lr": 1e-6}, {"holdout": 0.49}, {"compile": "auto"},
                                     {"compile": True}, {"cuda_graphs": False}, {"cuda_graphs": "auto"}])
def test_edge_values_are_accepted(changes):
    settings = FitSettings(**changes)
    assert all(getattr(settings, key) == value for key, value in changes.items())


def test_every_precision_name_is_accepted():
    assert PRECISIONS == ("auto", "fp32", "bf16")
    assert [FitSettings(precision=name).precision for name in PRECISIONS] == list(PRECISIONS)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FitSettings().iters = 5  # type: ignore[misc]


def test_replace_changes_the_given_fields_only():
    settings = FitSettings(ema=0.99, seed=3)
    changed = settings.replace(iters=20, lr=0.002)
    assert (changed.iters, changed.lr) == (20, 0.002)
    assert {**changed.to_dict(), "iters": settings.iters, "lr": settings.lr} == settings.to_dict()
    assert settings.iters == 2000  # the original is untouched


def test_replace_ignores_none_values():
    settings = FitSettings(ema=0.99, device="cpu")
    assert settings.replace(ema=None, device=None, iters=None) == settings
    assert settings.replace(ema=None).ema == 0.99  # None cannot clear a field through replace


def test_replace_validates_the_copy():
    with pytest.raises(NasdipError, match=r"^iters must be at least 1, got 0$"):
        FitSettings().replace(iters=0)


def test_to_dict_round_trips():
    settings = FitSettings(iters=123, lr=0.003, reg_noise=0.0, ema=0.9, guard_db=3.0, sync_every=7, log_every=2,
                           stop="wmv", stop_window=11, stop_patience=13, holdout=0.2, seed=9, device="cpu",
                           precision="fp32", compile=True)
    data = settings.to_dict()
    assert set(data) == {field.name for field in dataclasses.fields(FitSettings)}
    assert data["iters"] == 123 and data["ema"] == 0.9 and data["compile"] is True
    assert FitSettings(**data) == settings
    assert FitSettings(**FitSettings().to_dict()) == FitSettings()


def test_stop_config_carries_the_stopping_values():
    settings = FitSettings(stop="wmv", stop_window=20, stop_patience=40, iters=100)
    assert settings.stop_config == StopConfig("wmv", 20, 40, min_steps=20)


@pytest.mark.parametrize("stop", ["holdout", "auto"])
def test_with_stopping_gives_a_holdout_detector_the_default_fraction(stop):
    settings = FitSettings().with_stopping(stop=stop)
    assert settings.stop == stop and settings.holdout == DEFAULT_HOLDOUT == 0.1


def test_with_stopping_gives_a_reward_that_needs_held_out_pixels_the_default_fraction():
    settings = FitSettings().with_stopping(needs_holdout=True)
    assert settings.stop == "iters" and settings.holdout == DEFAULT_HOLDOUT


def test_with_stopping_adds_no_holdout_where_none_is_needed():
    assert FitSettings().with_stopping(stop="wmv").holdout == 0.0
    assert FitSettings().with_stopping().holdout == 0.0


def test_with_stopping_keeps_a_given_fraction():
    assert FitSettings().with_stopping(stop="holdout", holdout=0.25).holdout == 0.25
    assert FitSettings(holdout=0.3).with_stopping(stop="holdout").holdout == 0.3
    assert FitSettings(holdout=0.3).with_stopping(needs_holdout=True).holdout == 0.3


def test_with_stopping_uses_the_current_rule_and_ignores_none():
    settings = FitSettings(stop="holdout", holdout=0.2, iters=500)
    same = settings.with_stopping(stop=None, stop_window=None, stop_patience=None, holdout=None)
    assert same == settings
    changed = settings.with_stopping(stop_window=30, stop_patience=60)
    assert (changed.stop, changed.stop_window, changed.stop_patience, changed.holdout) == ("holdout", 30, 60, 0.2)


def test_with_stopping_validates_the_result():
    with pytest.raises(NasdipError, match=r"window \(50 steps\) must be shorter than the step cap \(--iters 50\)"):
        FitSettings(iters=50).with_stopping(stop="wmv")
