"""NetConfig: the release's defaults, one clear line per invalid setting, copies with changes, plain dicts."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from nasdip.errors import NasdipError
from nasdip.nn.config import NetConfig

DEFAULTS = {"width": 128, "depth": 5, "input_depth": 32, "out_channels": 3, "skip": 4, "pad": "reflection",
            "activation": "leaky_relu", "sigmoid": True}


def test_defaults_are_the_releases():
    assert NetConfig().to_dict() == DEFAULTS


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 0}, "network width must be a positive integer, got 0"),
        ({"depth": -1}, "network depth must be a positive integer, got -1"),
        ({"input_depth": 2.5}, "network input_depth must be a positive integer, got 2.5"),
        ({"out_channels": "3"}, "network out_channels must be a positive integer, got '3'"),
        ({"width": 6}, "network width must be a multiple of 4 (pixel shuffle splits channels in 4), got 6"),
        ({"skip": -1}, "network skip channels must be an integer >= 0, got -1"),
        ({"skip": "4"}, "network skip channels must be an integer >= 0, got '4'"),
        ({"skip": 2.5}, "network skip channels must be an integer >= 0, got 2.5"),
        ({"depth": True}, "network depth must be a positive integer, got True"),
        ({"sigmoid": "no"}, "network sigmoid must be true or false, got 'no'"),
        ({"pad": "same"}, "network pad must be one of reflection, zero, got 'same'"),
        ({"activation": "gelu"}, "network activation must be one of none, relu, leaky_relu, got 'gelu'"),
    ],
)
def test_invalid_settings_are_refused_in_one_line(changes, message):
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        NetConfig(**changes)


def test_smallest_valid_settings_are_accepted():
    config = NetConfig(width=4, depth=1, input_depth=1, out_channels=1, skip=0, pad="zero", activation="none",
                       sigmoid=False)
    assert (config.width, config.depth, config.skip, config.pad) == (4, 1, 0, "zero")


def test_replace_makes_a_changed_copy():
    original = NetConfig(width=8)
    changed = original.replace(out_channels=1, pad="zero")
    assert changed == NetConfig(width=8, out_channels=1, pad="zero")
    assert original == NetConfig(width=8) and changed is not original


def test_replace_validates_the_copy():
    with pytest.raises(NasdipError, match=r"^network width must be a multiple of 4 .*got 10$"):
        NetConfig(width=8).replace(width=10)
    with pytest.raises(TypeError, match="height"):
        NetConfig().replace(height=3)


def test_configs_are_frozen_and_hashable():
    config = NetConfig(width=8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.width = 16
    assert {config: "a"}[NetConfig(width=8)] == "a"


def test_to_dict_round_trips_through_json():
    config = NetConfig(width=12, depth=3, input_depth=2, out_channels=1, skip=0, pad="zero", activation="relu",
                       sigmoid=False)
    record = json.loads(json.dumps(config.to_dict()))
    assert record == {"width": 12, "depth": 3, "input_depth": 2, "out_channels": 1, "skip": 0, "pad": "zero",
                      "activation": "relu", "sigmoid": False}
    assert NetConfig(**record) == config


def test_to_dict_is_a_fresh_dict():
    config = NetConfig()
    config.to_dict()["width"] = 4
    assert config.to_dict()["width"] == 128
