"""Generic space operations: validation messages, masks, encode/decode, mutation."""

from __future__ import annotations

import random

import pytest

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.arch.document import Arch
from nasdip.errors import ArchError


@pytest.fixture
def space():
    return registry.get("spaces", "nasdip")


def sr_choices():
    return dict(presets()["nasdip-sr"].choices)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kernel": 4}, r"^arch\.choices\.kernel: 4 is not a choice \(choose from 1, 3, 5, 7\)$"),
        ({"colour": "red"}, r"^arch\.choices\.colour: space 'nasdip' has no decision of that name"),
        ({"spatial": "transposed_conv"}, r"^arch\.choices\.transform: 'depthwise_conv' is not allowed with "
                                         r"spatial='transposed_conv'; allowed here: identity$"),
        ({"order": "transform_first"}, r"^arch\.choices\.order: 'transform_first' is not allowed with "
                                       r"spatial='bicubic'; allowed here: spatial_first$"),
    ],
)
def test_validation_names_the_field_in_one_line(space, change, message):
    with pytest.raises(ArchError, match=message):
        space.arch({**sr_choices(), **change})


def test_missing_decision(space):
    choices = sr_choices()
    del choices["add3_e2"]
    with pytest.raises(ArchError, match=r"^arch\.choices\.add3_e2: missing \(choose from 0, 1\)$"):
        space.arch(choices)


def test_string_spellings_of_numbers_are_refused(space):
    choices = {**sr_choices(), "kernel": "5"}
    with pytest.raises(ArchError, match=r"^arch\.choices\.kernel: '5' must be a number: write 5 \(choose from 1, 3, 5, 7\)$"):
        space.arch(choices)
    assert space.arch(sr_choices()) == presets()["nasdip-sr"]


def test_a_boolean_is_not_the_number_one(space):
    with pytest.raises(ArchError, match=r"^arch\.choices\.add1_z: True is not a choice \(choose from 0, 1\)$"):
        space.arch({**sr_choices(), "add1_z": True})


def test_wrong_space_name(space):
    with pytest.raises(ArchError, match=r"^arch\.space: 'dip' is not 'nasdip'$"):
        space.validate(Arch("dip", {}))


def test_encode_decode_round_trip(space):
    rng = random.Random(3)
    for _ in range(50):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch


def test_mutation_changes_a_decision_and_stays_valid(space):
    rng = random.Random(5)
    arch = presets()["nasdip-sr"]
    for _ in range(200):
        mutated = space.mutate(arch, rng)
        assert mutated != arch
        assert space.validate(mutated) == mutated
        arch = mutated


def test_mutation_of_a_space_without_decisions_is_identity():
    dip = registry.get("spaces", "dip")
    arch = presets()["dip-skip"]
    assert dip.mutate(arch, random.Random(0)) == arch
