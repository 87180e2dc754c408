"""Trial records: a round trip, and records of the wrong shape or types are refused (corrupt trial logs)."""

from __future__ import annotations

import json

import pytest

from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.search.records import Trial
from nasdip.search.rundir import RunDirectory


def record(**changes) -> dict:
    arch = presets()["dip-skip"]
    trial = Trial(index=0, round=0, arch=arch.to_dict(), digest=arch.digest, status="ok", reward=20.5,
                  best_reward=20.5, seconds=1.5, elapsed=3.0, fidelity={"iters": 10})
    return {**trial.to_dict(), **changes}


def test_round_trip():
    data = record(metrics={"psnr": 20.5})
    assert Trial.from_dict(json.loads(json.dumps(data))).to_dict() == data
    assert Trial.from_dict(record(status="failed", reward=None, error="out of memory")).error == "out of memory"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "a trial record is a JSON object, got list"),
        (record(reward="high"), "trial field 'reward' has the wrong type: 'high'"),
        (record(index=True), "trial field 'index' has the wrong type: True"),
        (record(elapsed=None), "trial field 'elapsed' has the wrong type: None"),
        (record(arch="dip-skip"), "trial field 'arch' has the wrong type: 'dip-skip'"),
        (record(status="great"), "trial status must be 'ok', 'failed' or 'duplicate', got 'great'"),
        (record(reward=None), "an evaluated trial has no reward"),
    ],
)
def test_wrong_shapes_and_types_raise_type_error(data, message):
    with pytest.raises(TypeError) as caught:
        Trial.from_dict(data)
    assert str(caught.value) == message


def test_a_badly_typed_line_in_the_trial_log_is_named(tmp_path):
    run = RunDirectory(tmp_path)
    lines = [record(), record(index=1, reward="x"), record(index=2)]
    (tmp_path / "trials.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(NasdipError, match=r"trials\.jsonl: line 2 is corrupt$"):
        run.trials()
