"""Packed fits: each member is its separate fit, bit for bit in fp32 (same thread count), divergence and stopping
per member; fit_many falls back to one-by-one fits where packing cannot apply."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.engine import fit
from nasdip.fit.inputs import builtin_problem, degrade_set
from nasdip.fit.packed import MAX_MEMBERS, can_pack, fit_many, fit_packed
from nasdip.fit.request import FitRequest
from nasdip.io.builtin import builtin_regions
from nasdip.nn.config import NetConfig
from nasdip.nn.packed import NotPackable
from nasdip.tasks.denoise import Denoising

NARROW = NetConfig(width=8)


def same(a: list[float], b: list[float]) -> bool:
    """Equal lists of floats, NaN equal to NaN."""
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


def assert_same_fit(packed, alone) -> None:
    assert torch.equal(packed.output, alone.output)
    assert same(packed.losses, alone.losses) and same(packed.scores, alone.scores)
    assert same(packed.heldout, alone.heldout)
    assert packed.metrics == alone.metrics
    assert (packed.stop_reason, packed.iters, packed.rollbacks) == (alone.stop_reason, alone.iters, alone.rollbacks)


def requests(task, problems, arch, settings, config=NARROW, callbacks=()):
    """One request per ``(problem, settings)`` pair."""
    return [FitRequest(task, problem, arch, config, s, callbacks=callbacks)
            for problem, s in zip(problems, settings, strict=True)]


def separate(task, problems, arch, settings, config=NARROW):
    return [fit(request) for request in requests(task, problems, arch, settings, config)]


@pytest.mark.parametrize(("task_name", "arch", "changes"), [
    ("denoise", "dip-skip", {}),  # output average
    ("sr", "nasdip-sr", {"stop": "wmv", "stop_window": 5, "stop_patience": 5, "sync_every": 5}),
    ("inpaint", "nasdip-inpaint", {"holdout": 0.2, "stop": "holdout", "stop_window": 5, "stop_patience": 5,
                                   "sync_every": 5}),
])
def test_packed_members_equal_their_separate_fits(task_name, arch, changes):
    task = registry.get("tasks", task_name)()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = [task.settings().replace(iters=40, device="cpu", precision="fp32", seed=seed, **changes)
                for seed in (1, 2, 3)]
    packed = fit_packed(requests(task, [problem] * 3, presets()[arch], settings))
    for together, alone in zip(packed, separate(task, [problem] * 3, presets()[arch], settings), strict=True):
        assert_same_fit(together, alone)
        assert together.packed == 3


def test_a_member_its_detector_stops_is_frozen_while_another_goes_on_to_the_cap():
    """Which seeds' detectors fire before the cap depends on the machine and its threads, so the pack takes a seed
    whose separate fit stopped early and one whose fit reached the cap, as found here; it ends each as alone."""
    task = registry.get("tasks", "sr")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = {seed: task.settings().replace(iters=40, device="cpu", precision="fp32", seed=seed, stop="wmv",
                                              stop_window=5, stop_patience=5, sync_every=5) for seed in range(1, 9)}
    alone = dict(zip(settings, separate(task, [problem] * 8, presets()["nasdip-sr"], list(settings.values())),
                     strict=True))
    early = next(seed for seed, result in alone.items() if result.stop_reason == "detected" and result.iters < 40)
    late = next(seed for seed, result in alone.items() if result.stop_reason == "cap")
    packed = fit_packed(requests(task, [problem] * 2, presets()["nasdip-sr"], [settings[early], settings[late]]))
    for together, seed in zip(packed, (early, late), strict=True):
        assert_same_fit(together, alone[seed])
    assert [(result.stop_reason, result.iters < 40) for result in packed] == [("detected", True), ("cap", False)]


def test_different_images_in_one_pack():
    task = registry.get("tasks", "denoise")()
    problems = degrade_set(task, builtin_regions(32), seed=3)
    settings = [task.settings().replace(iters=30, device="cpu", precision="fp32", seed=5)] * len(problems)
    packed = fit_packed(requests(task, problems, presets()["dip-skip"], settings))
    for together, alone in zip(packed, separate(task, problems, presets()["dip-skip"], settings), strict=True):
        assert_same_fit(together, alone)


class SabotagedDenoising(Denoising):
    """Denoising whose loss turns NaN at chosen calls for one image (counted per image)."""

    def __init__(self, victim: str, calls: set[int]) -> None:
        super().__init__()
        self.victim, self.bad_calls, self.counts = victim, calls, {}

    def loss(self, output, problem, weight=None):
        self.counts[problem.name] = self.counts.get(problem.name, 0) + 1
        loss = super().loss(output, problem, weight)
        return loss * math.nan if problem.name == self.victim and self.counts[problem.name] in self.bad_calls else loss


def test_a_diverging_member_rolls_back_alone():
    problems = degrade_set(Denoising(), builtin_regions(32), seed=3)
    settings = [Denoising().settings().replace(iters=40, device="cpu", precision="fp32", sync_every=10)] * 2
    victim = problems[1].name
    packed = fit_packed(requests(SabotagedDenoising(victim, {17, 18}), problems, presets()["dip-skip"], settings))
    alone = separate(SabotagedDenoising(victim, {17, 18}), problems, presets()["dip-skip"], settings)
    assert [r.rollbacks for r in packed] == [0, 1]
    for together, single in zip(packed, alone, strict=True):
        assert_same_fit(together, single)


def test_a_callback_stops_one_member_which_keeps_its_output():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = [task.settings().replace(iters=40, device="cpu", precision="fp32", sync_every=10, seed=s, ema=None)
                for s in (0, 1)]
    seen = []

    def stop_at_twenty(step, metrics):
        seen.append(step)
        return step == 20 and len(seen) == 3  # the first member's second check

    packed = fit_packed(requests(task, [problem] * 2, presets()["dip-skip"], settings, callbacks=(stop_at_twenty,)))
    assert [r.stop_reason for r in packed] == ["callback", "iters"] and [r.iters for r in packed] == [20, 40]
    alone = fit(FitRequest(task, problem, presets()["dip-skip"], NARROW, settings[0].replace(iters=20)))
    assert torch.equal(packed[0].output, alone.output)  # frozen since it stopped: the network at step 20
    assert packed[0].losses == alone.losses


def test_bf16_members_match_to_bf16_tolerance():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = [task.settings().replace(iters=10, device="cpu", precision="bf16", seed=s) for s in (0, 1)]
    packed = fit_packed(requests(task, [problem] * 2, presets()["dip-skip"], settings))
    for together, alone in zip(packed, separate(task, [problem] * 2, presets()["dip-skip"], settings), strict=True):
        assert together.losses[0] == alone.losses[0]  # the first forward pass is the same
        assert together.metrics["psnr"] == pytest.approx(alone.metrics["psnr"], abs=0.1)


def test_fit_many_packs_what_it_can_and_fits_the_rest_alone(monkeypatch):
    task = registry.get("tasks", "denoise")()
    small, large = builtin_problem(task, 0, 32), builtin_problem(task, 0, 40)
    problems = [small, large, small, small]
    settings = [task.settings().replace(iters=6, device="cpu", precision="fp32", seed=s) for s in range(4)]
    packs = []
    results = fit_many(requests(task, problems, presets()["dip-skip"], settings), max_members=2, on_start=packs.append)
    assert packs == [[0, 2], [3], [1]]
    assert [r.packed for r in results] == [2, 1, 2, 1]
    for together, alone in zip(results, separate(task, problems, presets()["dip-skip"], settings), strict=True):
        assert_same_fit(together, alone)
    packs.clear()
    fit_many(requests(task, problems, presets()["dip-skip"], settings), pack=False, on_start=packs.append)
    assert packs == [[0], [1], [2], [3]]


def test_packs_stay_as_small_as_pays(monkeypatch):
    import nasdip.fit.packed as packed_fit

    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, 0, 32)
    request = FitRequest(task, problem, presets()["dip-skip"], NARROW, task.settings())
    assert packed_fit.members_that_pay(request) == 2**20 // (32 * 32 * 8)
    assert packed_fit.members_that_pay(request.replace(config=NetConfig(width=2048))) == 1
    monkeypatch.setattr(packed_fit, "PACK_WORK", 3 * 32 * 32 * 8)
    settings = [task.settings().replace(iters=2, device="cpu", precision="fp32", seed=s) for s in range(5)]
    packs = []
    fit_many(requests(task, [problem] * 5, presets()["dip-skip"], settings), on_start=packs.append)
    assert packs == [[0, 1, 2], [3, 4]]


def test_tasks_that_fit_their_own_way_are_not_packed(monkeypatch):
    assert can_pack(registry.get("tasks", "sr")()) and MAX_MEMBERS >= 4
    assert not can_pack(registry.get("tasks", "dehaze")())  # two generators: packable = False

    class OwnFit(Denoising):
        def fit(self, *args, **kwargs):
            return super().fit(*args, **kwargs)

    assert not can_pack(OwnFit())
    problem = builtin_problem(Denoising(), 0, 32)
    with pytest.raises(NotPackable, match="fits its own way"):
        fit_packed(requests(OwnFit(), [problem] * 2, presets()["dip-skip"], [Denoising().settings()] * 2))
    settings = [Denoising().settings().replace(iters=3, device="cpu", seed=s) for s in (0, 1)]
    assert [r.packed for r in fit_many(requests(OwnFit(), [problem] * 2, presets()["dip-skip"], settings))] == [1, 1]


def test_settings_must_differ_only_in_the_seed():
    task = Denoising()
    problem = builtin_problem(task, 0, 32)
    settings = [task.settings().replace(iters=3, device="cpu"), task.settings().replace(iters=3, device="cpu", lr=0.1)]
    with pytest.raises(NotPackable, match="other than the seed"):
        fit_packed(requests(task, [problem] * 2, presets()["dip-skip"], settings))
    assert [r.packed for r in fit_many(requests(task, [problem] * 2, presets()["dip-skip"], settings))] == [1, 1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_packed_fits_on_gpu(precision):
    task = registry.get("tasks", "sr")()
    problem = builtin_problem(task, seed=0, crop=64)
    settings = [task.settings().replace(iters=30, device="cuda", precision=precision, seed=s) for s in (0, 1, 2)]
    packed = fit_packed(requests(task, [problem] * 3, presets()["nasdip-sr"], settings, config=NetConfig(width=16)))
    alone = separate(task, [problem] * 3, presets()["nasdip-sr"], settings, NetConfig(width=16))
    for together, single in zip(packed, alone, strict=True):
        assert together.device.startswith("cuda") and torch.isfinite(together.output).all()
        assert together.losses[0] == pytest.approx(single.losses[0], rel=1e-2)
        assert together.metrics["psnr"] == pytest.approx(single.metrics["psnr"], abs=0.5)
