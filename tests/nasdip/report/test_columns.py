"""What describes a trial: setting (rung, fidelity), numeric metrics, network cost, task text, units."""

from __future__ import annotations

import math

import pytest

from nasdip.arch.catalog import resolve_arch
from nasdip.nn.config import NetConfig
from nasdip.report import columns
from nasdip.search.records import Trial


def trial(status="ok", arch="nasdip-sr", **fields):
    document = resolve_arch(arch)
    values = {"index": 0, "round": 0, "arch": document.to_dict(), "digest": document.digest, "status": status,
              "reward": 20.0 if status == "ok" else None, "best_reward": None, "seconds": 1.0, "elapsed": 1.0,
              "fidelity": {"iters": 5, "crop": 48, "width": 8}}
    values.update(fields)
    return Trial(**values)


def test_cost_is_computed_once_per_architecture_and_never_for_failed_trials(monkeypatch):
    calls = []
    real = columns.network_cost

    def counting(arch, config, size):
        calls.append((arch.digest, config.width, size))
        return real(arch, config, size)

    monkeypatch.setattr(columns, "network_cost", counting)
    monkeypatch.setattr(columns, "_COSTS", {})
    first = columns.trial_cost(trial())
    assert first == real(resolve_arch("nasdip-sr"), NetConfig(width=8), (48, 48))
    assert columns.trial_cost(trial(index=5)) == first and len(calls) == 1
    assert columns.trial_cost(trial("failed", arch="nasdip-denoise")) is None and len(calls) == 1


def test_setting_and_metrics_are_read_generically():
    evaluated = trial(metrics={"psnr": 20.5, "stop_step": 40, "per_image": {"a": 1.0}, "converged": True,
                               "bad": math.nan})
    assert columns.trial_setting(evaluated) == {"rung": 0, "fidelity_iters": 5, "fidelity_crop": 48,
                                                "fidelity_width": 8}
    evaluated.rung = 2
    assert list(columns.trial_setting(evaluated)) == ["rung", "fidelity_iters", "fidelity_crop", "fidelity_width"]
    assert columns.numeric_metrics(evaluated) == {"psnr": 20.5, "stop_step": 40}


@pytest.mark.parametrize(("config", "expected"), [
    ({"task": "denoise"}, "denoise (sigma=25.0)"),
    ({"task": "sr", "task_values": {"scale": 2}}, "sr (scale=2)"),
    ({"task": "not-installed", "task_values": {"a": 1}}, "not-installed (a=1)"),
])
def test_task_text_names_every_option(config, expected):
    assert columns.task_text(config) == expected


def test_units_come_from_the_rewards():
    assert columns.reward_unit("psnr") == "dB" and columns.reward_unit("ssim") == ""
    assert columns.reward_unit("unknown") == ""
    assert columns.metric_unit("psnr_max") == "dB" and columns.metric_unit("stop_step") == ""
    assert columns.with_unit("best psnr", "dB") == "best psnr (dB)" and columns.with_unit("ssim", "") == "ssim"
