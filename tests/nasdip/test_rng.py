"""Python random generator states as plain data: round trips through ``torch.save(weights_only)`` and JSON."""

from __future__ import annotations

import json
import random

import torch

from nasdip.rng import load_python_rng_state, python_rng_state


def advanced(seed: int, draws: int = 7) -> random.Random:
    rng = random.Random(seed)
    for _ in range(draws):
        rng.random()
    return rng


def test_the_state_is_plain_lists_and_numbers():
    state = python_rng_state(advanced(3))
    version, internal, gauss = state
    assert isinstance(state, list) and isinstance(internal, list)
    assert version == random.Random().getstate()[0] and gauss is None
    assert len(internal) == 625 and all(isinstance(word, int) for word in internal)
    assert (version, tuple(internal), gauss) == advanced(3).getstate()


def test_round_trip_through_torch_save_with_weights_only(tmp_path):
    rng = advanced(11)
    torch.save({"rng": python_rng_state(rng)}, tmp_path / "state.pt")
    expected = [rng.random() for _ in range(5)]
    restored = random.Random(0)
    load_python_rng_state(restored, torch.load(tmp_path / "state.pt", weights_only=True)["rng"])
    assert [restored.random() for _ in range(5)] == expected


def test_round_trip_through_json():
    rng = advanced(5)
    text = json.dumps(python_rng_state(rng))
    expected = [rng.randrange(1000) for _ in range(5)]
    restored = random.Random(99)
    load_python_rng_state(restored, json.loads(text))
    assert [restored.randrange(1000) for _ in range(5)] == expected


def test_a_pending_gauss_value_survives_the_round_trip():
    rng = random.Random(2)
    rng.gauss(0, 1)  # leaves the second value of the pair pending
    state = python_rng_state(rng)
    assert isinstance(state[2], float)
    expected = rng.gauss(0, 1)
    restored = random.Random(0)
    load_python_rng_state(restored, json.loads(json.dumps(state)))
    assert restored.gauss(0, 1) == expected


def test_saving_the_state_does_not_advance_the_generator():
    rng, twin = advanced(8), advanced(8)
    python_rng_state(rng)
    assert rng.random() == twin.random()


def test_a_restored_state_is_independent_of_the_saved_list():
    rng = advanced(4)
    state = python_rng_state(rng)
    expected = rng.random()
    restored = random.Random(0)
    load_python_rng_state(restored, state)
    state[1][0] = 0  # later changes to the list do not reach the generator
    assert restored.random() == expected
