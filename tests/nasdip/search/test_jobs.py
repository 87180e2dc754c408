"""Evaluation jobs and outcomes: a fidelity as plain data, jobs and outcomes that survive pickling."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
import torch

from nasdip.arch.catalog import presets
from nasdip.search.jobs import EvalJob, EvalOutcome, Fidelity


def test_fidelity_to_dict_round_trips():
    fidelity = Fidelity(iters=5, crop=16, width=4)
    assert fidelity.to_dict() == {"iters": 5, "crop": 16, "width": 4}
    assert Fidelity(**json.loads(json.dumps(fidelity.to_dict()))) == fidelity
    assert Fidelity(iters=5, crop=None, width=4).to_dict() == {"iters": 5, "crop": None, "width": 4}


def test_fidelity_is_frozen_and_hashable():
    fidelity = Fidelity(iters=5, crop=16, width=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fidelity.iters = 6
    assert len({fidelity, Fidelity(5, 16, 4), Fidelity(5, 16, 8)}) == 2


def make_job() -> EvalJob:
    generator = torch.Generator().manual_seed(0)
    problems = [{"observation": torch.rand(1, 3, 8, 8, generator=generator),
                 "clean": torch.rand(1, 3, 8, 8, generator=generator), "name": "a.png"}]
    return EvalJob(trial=4, arch=presets()["dip-skip"].to_dict(), task="denoise", task_values={"sigma": 25.0},
                   problems=problems, config={"width": 4}, settings={"iters": 3, "device": "cpu"}, reward="psnr")


def test_a_job_survives_pickling():
    job = make_job()
    copy = pickle.loads(pickle.dumps(job))
    assert (copy.trial, copy.arch, copy.task, copy.task_values, copy.config, copy.settings, copy.reward, copy.pack) == (
        4, job.arch, "denoise", {"sigma": 25.0}, {"width": 4}, {"iters": 3, "device": "cpu"}, "psnr", True)
    assert copy.problems[0]["name"] == "a.png"
    for key in ("observation", "clean"):
        assert torch.equal(copy.problems[0][key], job.problems[0][key])
    assert copy.problems[0]["observation"] is not job.problems[0]["observation"]


def test_a_job_packs_unless_told_not_to():
    assert make_job().pack is True
    assert pickle.loads(pickle.dumps(dataclasses.replace(make_job(), pack=False))).pack is False


def test_an_outcome_survives_pickling():
    output = torch.linspace(0, 1, 48).reshape(1, 3, 4, 4)
    outcome = EvalOutcome(trial=4, status="ok", reward=21.5, metrics={"psnr": 21.5, "ssim": 0.5}, seconds=1.25,
                          outputs=[output])
    copy = pickle.loads(pickle.dumps(outcome))
    assert (copy.trial, copy.status, copy.reward, copy.metrics, copy.seconds, copy.error) == (
        4, "ok", 21.5, {"psnr": 21.5, "ssim": 0.5}, 1.25, None)
    assert len(copy.outputs) == 1 and torch.equal(copy.outputs[0], output)


def test_a_failed_outcome_defaults_and_survives_pickling():
    failed = EvalOutcome(trial=2, status="failed", error="RuntimeError: out of memory")
    assert (failed.reward, failed.metrics, failed.seconds, failed.outputs) == (None, {}, 0.0, [])
    assert pickle.loads(pickle.dumps(failed)) == failed


def test_outcomes_do_not_share_their_default_containers():
    first, second = EvalOutcome(0, "ok", 1.0), EvalOutcome(1, "ok", 2.0)
    first.metrics["psnr"] = 1.0
    first.outputs.append(torch.zeros(1))
    assert second.metrics == {} and second.outputs == []
