"""Candidate evaluation packs a candidate's fits on its search images and gives the same rewards as one by one."""

from __future__ import annotations

import dataclasses

import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import degrade_set
from nasdip.io.builtin import builtin_regions
from nasdip.nn.config import NetConfig
from nasdip.search.evaluate import evaluate
from nasdip.search.jobs import EvalJob


def job(pack: bool, reward: str = "psnr", **changes) -> EvalJob:
    task = registry.get("tasks", "denoise")()
    problems = degrade_set(task, builtin_regions(32), seed=1)
    settings = task.settings().replace(iters=30, device="cpu", precision="fp32", **changes)
    return EvalJob(trial=0, arch=presets()["nasdip-denoise"].to_dict(), task="denoise", task_values={},
                   problems=[p.to_dict() for p in problems], config=NetConfig(width=8).to_dict(),
                   settings=settings.to_dict(), reward=reward, pack=pack)


def test_packed_and_one_by_one_evaluations_agree():
    packed, alone = evaluate(job(pack=True)), evaluate(job(pack=False))
    assert packed.status == alone.status == "ok"
    assert packed.reward == alone.reward  # fp32: bit for bit
    assert packed.metrics["per_image"] == alone.metrics["per_image"] and len(packed.metrics["per_image"]) == 2
    assert all((a == b).all() for a, b in zip(packed.outputs, alone.outputs, strict=True))


def test_packed_evaluation_with_held_out_pixels_agrees():
    packed = evaluate(job(pack=True, reward="holdout", holdout=0.1))
    alone = evaluate(job(pack=False, reward="holdout", holdout=0.1))
    assert packed.status == "ok" and packed.reward == alone.reward


def test_progress_reports_the_fraction_of_fitting_steps_done():
    heard = []
    quiet = evaluate(job(pack=True))
    told = evaluate(dataclasses.replace(job(pack=True), trial=7),
                    on_progress=lambda trial, fraction: heard.append((trial, fraction)))
    assert told.reward == quiet.reward  # listening changes nothing
    assert {trial for trial, _ in heard} == {7}
    fractions = [fraction for _, fraction in heard]
    # Two images of 30 steps, synchronised at step 25 and at the end: each report adds that fit's steps.
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert fractions[0] == 25 / 60


def test_the_cross_scale_reward_fits_each_observation_downscaled_once_more():
    task = registry.get("tasks", "sr")(scale=2)
    low = [task.observe(torch.rand(1, 3, 21, 17), name="odd")]  # no clean image: an observed search
    settings = task.settings().replace(iters=10, device="cpu", precision="fp32")
    outcome = evaluate(EvalJob(trial=0, arch=presets()["dip-skip"].to_dict(), task="sr", task_values={"scale": 2},
                               problems=[p.to_dict() for p in low], config=NetConfig(width=8).to_dict(),
                               settings=settings.to_dict(), reward="cross-scale"))
    assert outcome.status == "ok", outcome.error
    assert outcome.outputs[0].shape[-2:] == (20, 16)  # the observation's size, cropped to a multiple of 2
    assert outcome.reward == outcome.metrics["psnr"]  # the fit's PSNR against the observation itself
    assert outcome.metrics["step_pixels"] == 10 * 20 * 16
