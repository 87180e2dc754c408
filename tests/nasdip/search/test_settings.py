"""Search settings: registered defaults, a ``config.json`` round trip, one-line validation, per-rung fit settings."""

from __future__ import annotations

import json

import pytest
import torch

from nasdip import __version__, hookimpl, registry
from nasdip.errors import NasdipError, UnknownNameError, UsageError
from nasdip.fit.stopping import DEFAULT_HOLDOUT
from nasdip.nn.config import NetConfig
from nasdip.search.jobs import Fidelity
from nasdip.search.reward import Reward
from nasdip.search.settings import DEFAULT_BUDGET, DEFAULT_FIDELITY, SearchSettings, no_reference_rewards

LADDER = [Fidelity(4, 16, 4), Fidelity(10, 24, 8)]


def test_empty_names_are_the_registered_defaults():
    settings = SearchSettings(searcher="random", task="sr")
    assert (settings.space, settings.reward, settings.executor) == (
        registry.default_name("spaces"), registry.default_name("rewards"), registry.default_name("executors"))
    assert (settings.space, settings.reward, settings.executor) == ("nasdip", "psnr", "serial")
    assert (settings.budget, settings.fidelity, settings.rungs) == (DEFAULT_BUDGET, DEFAULT_FIDELITY, [DEFAULT_FIDELITY])


def test_given_names_are_kept():
    settings = SearchSettings(searcher="rl", task="denoise", space="dip", reward="ssim", executor="process")
    assert (settings.space, settings.reward, settings.executor) == ("dip", "ssim", "process")


def test_observed_images_default_to_the_tasks_no_reference_reward(monkeypatch):
    assert SearchSettings(searcher="random", task="sr", observed=True).reward == "cross-scale"
    assert SearchSettings(searcher="random", task="denoise", observed=True).reward == "recorrupted"
    assert SearchSettings(searcher="random", task="sr", observed=True, reward="psnr").reward == "psnr"
    monkeypatch.setattr(registry.get("tasks", "dehaze"), "no_reference_reward", None)  # declares none
    assert SearchSettings(searcher="random", task="dehaze", observed=True).reward == no_reference_rewards()[0]


def test_no_reference_rewards_are_those_needing_no_clean_images_built_ins_first(register_plugin):
    assert no_reference_rewards() == ["holdout", "cross-scale", "recorrupted", "psd", "psd-hist", "lowpass"]

    class Plugin:
        @hookimpl
        def register_rewards(self, register):
            register(Reward("sharpness", lambda c: 0.0, needs_fit=False, needs_clean=False))
            register(Reward("fidelity", lambda c: 0.0))  # needs clean images: not listed

    register_plugin(Plugin(), "settings-rewards")
    assert no_reference_rewards() == ["holdout", "cross-scale", "recorrupted", "psd", "psd-hist", "lowpass", "sharpness"]


def full_settings() -> SearchSettings:
    return SearchSettings(searcher="evolution", task="sr", space="upsample-cell", task_values={"scale": 2},
                          searcher_options={"population": 4}, reward="psnr-max", budget=6, batch=2,
                          fidelity=Fidelity(10, 24, 8), lr=0.02, seed=5, device="cpu", precision="fp32",
                          workers=2, images="shots", stopping={"stop": "wmv", "stop_window": 3},
                          schedule="halving", eta=2, ladder=LADDER)


def test_to_dict_is_plain_json_with_the_version():
    data = full_settings().to_dict()
    assert data["fidelity"] == {"iters": 10, "crop": 24, "width": 8}
    assert data["ladder"] == [{"iters": 4, "crop": 16, "width": 4}, {"iters": 10, "crop": 24, "width": 8}]
    assert data["nasdip_version"] == __version__
    assert json.loads(json.dumps(data)) == data


def test_from_dict_round_trips_through_json():
    settings = full_settings()
    assert SearchSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    plain = SearchSettings(searcher="random", task="denoise")
    assert SearchSettings.from_dict(plain.to_dict()) == plain


def test_from_dict_of_a_config_without_a_ladder():
    data = SearchSettings(searcher="random", task="denoise").to_dict()
    del data["ladder"]
    assert SearchSettings.from_dict(data).ladder == []


def test_the_rungs_are_the_ladder_cheapest_first():
    settings = full_settings()
    assert settings.rungs == LADDER and settings.rungs is not settings.ladder
    assert settings.net_config() == NetConfig(width=8) and settings.net_config(LADDER[0]) == NetConfig(width=4)


def test_fit_settings_follow_each_rung():
    settings = SearchSettings(searcher="random", task="sr", task_values={"scale": 2}, ladder=LADDER, seed=3,
                              device="cpu", precision="fp32")
    task = settings.make_task()
    cheap, top = settings.fit_settings(task, LADDER[0]), settings.fit_settings(task)
    assert (cheap.iters, cheap.sync_every, top.iters, top.sync_every) == (4, 4, 10, 10)
    for fit in (cheap, top):
        assert (fit.seed, fit.device, fit.precision, fit.lr, fit.reg_noise, fit.stop, fit.holdout) == (
            3, "cpu", "fp32", task.settings().lr, task.settings().reg_noise, "iters", 0.0)


def test_fit_settings_sync_at_most_every_25_steps_and_take_the_learning_rate():
    settings = SearchSettings(searcher="random", task="denoise", fidelity=Fidelity(200, 16, 4), lr=0.003)
    fit = settings.fit_settings(settings.make_task())
    assert (fit.iters, fit.sync_every, fit.lr, fit.ema) == (200, 25, 0.003, 0.99)


def test_fit_settings_carry_the_stopping_values_and_a_holdout_for_holdout_rewards():
    settings = SearchSettings(searcher="random", task="denoise", fidelity=Fidelity(30, 16, 4), reward="holdout",
                              stopping={"stop": "wmv", "stop_window": 5, "stop_patience": 7})
    fit = settings.fit_settings(settings.make_task())
    assert (fit.stop, fit.stop_window, fit.stop_patience, fit.holdout) == ("wmv", 5, 7, DEFAULT_HOLDOUT)
    given = SearchSettings(searcher="random", task="denoise", reward="holdout", stopping={"holdout": 0.2})
    assert given.fit_settings(given.make_task()).holdout == 0.2


def test_valid_settings_validate():
    full_settings().validate()
    SearchSettings(searcher="random", task="denoise", observed=True).validate()


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"searcher": "ranodm"}, UnknownNameError, "unknown searcher 'ranodm'; available: darts, evolution, random, rl"),
        ({"space": "grid"}, UnknownNameError, "unknown search space 'grid'; available: "),
        ({"task": "deblur"}, UnknownNameError, "unknown task 'deblur'; available: dehaze, denoise, inpaint, sr"),
        ({"reward": "lpips"}, UnknownNameError, "unknown reward 'lpips'; available: cross-scale, holdout, lowpass, psd, "
                                            "psd-hist, psnr, psnr-max, recorrupted, ssim"),
        ({"executor": "slurm"}, UnknownNameError, "unknown executor 'slurm'; available: process, ray, serial, "
                                                  "streams"),
        ({"task_values": {"scale": 3}}, UsageError, "--scale must be one of 2, 4, 8, got 3"),
        ({"searcher_options": {"size": 4}}, UsageError, "searcher 'evolution' has no option size (its options: "
                                                        "population, sample)"),
        ({"searcher_options": {"population": "x"}}, UsageError, "searcher 'evolution' option population: 'x' is not "
                                                                "a valid integer"),
        ({"executor": "serial", "trial_timeout": 5.0}, UsageError, "executor 'serial' cannot stop a running trial"),
        ({"executor_options": {"threads": 2}}, UsageError, "executor 'serial' has no option --threads (its options: "
                                                           "none)"),
        ({"observed": True, "reward": "ssim"}, UsageError, "reward 'ssim' needs clean images; with --observed use a "
                                                           "no-reference reward (holdout, cross-scale, recorrupted, psd, psd-hist, "
                                                           "lowpass)"),
        ({"stopping": {"stop": "wmv", "stop_window": 8}}, NasdipError, "the stopping window (8 steps) must be shorter "
                                                                       "than the step cap (--iters 4)"),
        ({"schedule": "halving", "ladder": []}, UsageError, "the halving schedule needs a ladder of at least 2 rungs"),
        ({"schedule": "fastest"}, UsageError, "unknown schedule 'fastest'; choose from "),
        ({"eta": 1}, UsageError, "--eta must be at least 2, got 1"),
    ],
)
def test_validate_raises_one_line_errors(changes, error, message):
    values = {"searcher": "evolution", "task": "sr", "task_values": {"scale": 2}, "space": "upsample-cell",
              "fidelity": Fidelity(10, 24, 8), "ladder": LADDER, "schedule": "halving", "budget": 6, "batch": 2,
              "eta": 2, "device": "cpu"}
    settings = SearchSettings(**{**values, **changes})
    with pytest.raises(error) as caught:
        settings.validate()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_validate_checks_the_stopping_settings_against_every_rung():
    # a window of 6 fits the top rung's 10 steps but not the cheapest rung's 4
    settings = SearchSettings(searcher="random", task="sr", task_values={"scale": 2}, ladder=LADDER,
                              schedule="halving", eta=2, budget=6, batch=2, stopping={"stop": "wmv", "stop_window": 6})
    settings.fit_settings(settings.make_task())  # fine at the top rung
    with pytest.raises(NasdipError, match=r"^the stopping window \(6 steps\) must be shorter than the step cap "
                                          r"\(--iters 4\)$"):
        settings.validate()


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"fidelity": Fidelity(10, 16, 8), "task": "sr"}, UsageError,
         "--crop 16 is too small for task sr (scale=4): it needs at least 20x20 pixels (SSIM's 11x11 window must fit "
         "in the restoration after shaving 4 border pixels); use --crop 20 or larger"),
        ({"fidelity": Fidelity(10, 24, 6)}, UsageError,
         "Invalid value for '--width': 6 is not a multiple of 4 (accepted: 4, 8, 12, ... up to 1024)"),
        ({"fidelity": Fidelity(10**7, 24, 8)}, UsageError,
         "Invalid value for '--iters': 10000000 is not in the range 1<=x<=1000000."),
        ({"lr": 50.0}, UsageError, "Invalid value for '--lr': 50.0 is not in the range 0<x<=10.0."),
        ({"searcher": "rl", "searcher_options": {"hidden": 0}}, UsageError,
         "hidden must be in the range 1<=x<=4096, got 0"),
        ({"searcher": "darts", "searcher_options": {"log_every": 0}}, UsageError,
         "log_every must be in the range 1<=x<=1000000, got 0"),
        ({"executor": "process", "executor_options": {"process_threads": -3}}, UsageError,
         "--process-threads must be in the range 1<=x<=1024, got -3"),
        ({"ladder": [Fidelity(4, 8, 4), Fidelity(10, 24, 8)], "schedule": "halving", "eta": 2}, UsageError,
         "--ladder-crops 8 is too small for task denoise (sigma=25.0)"),
        ({"device": "mps"}, NasdipError, "device 'mps' requested but "),
    ],
)
def test_validate_refuses_a_search_whose_every_candidate_must_fail(changes, error, message, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    settings = SearchSettings(**{"searcher": "random", "task": "denoise", "fidelity": Fidelity(10, 24, 8),
                                 "device": "cpu", **changes})
    with pytest.raises(error) as caught:
        settings.validate()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_validate_refuses_cuda_on_a_machine_without_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    settings = SearchSettings(searcher="random", task="denoise", fidelity=Fidelity(10, 24, 8), device="cuda")
    with pytest.raises(NasdipError, match=r"^device 'cuda' requested but CUDA is not available; use --device cpu$"):
        settings.validate()
    settings.device = "auto"
    settings.validate()
