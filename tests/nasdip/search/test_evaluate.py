"""Candidate evaluation packs a candidate's fits on its search images and gives the same rewards as one by one."""

from __future__ import annotations

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
