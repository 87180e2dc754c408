"""A fit request resolves its device once (again only when new settings name another device), copies with
``replace``/``with_settings``, and sizes a step as output pixels x network width."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.fit import request as request_module
from nasdip.fit.problem import Problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig

CONFIG = NetConfig(width=8)


@pytest.fixture
def resolutions(monkeypatch):
    """The device names ``FitRequest`` resolves, in order (resolved as CPU devices)."""
    names: list[str] = []

    def resolve(name: str) -> torch.device:
        names.append(name)
        return torch.device("cpu")

    monkeypatch.setattr(request_module, "resolve_device", resolve)
    return names


def make_request(settings: FitSettings | None = None, **fields) -> FitRequest:
    task = registry.get("tasks", "denoise")()
    problem = Problem(torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)), (16, 16))
    return FitRequest(task, problem, presets()["dip-skip"], CONFIG, settings or FitSettings(device="cpu"), **fields)


def test_the_device_is_resolved_from_the_settings():
    assert make_request(FitSettings(device="cpu")).device == torch.device("cpu")


def test_the_device_is_resolved_once(resolutions):
    request = make_request(FitSettings(device="auto"))
    assert resolutions == ["auto"]
    copy = request.replace(callbacks=(callback,))
    again = copy.with_settings(iters=5, lr=0.001)
    assert resolutions == ["auto"]
    assert copy.device is request.device and again.device is request.device


def test_an_explicit_device_is_not_resolved(resolutions):
    device = torch.device("cpu")
    assert make_request(FitSettings(device="cuda"), device=device).device is device
    assert resolutions == []


def test_new_settings_naming_another_device_resolve_it(resolutions):
    request = make_request(FitSettings(device="auto"))
    request.replace(settings=FitSettings(device="cpu"))
    request.with_settings(device="cuda:1")
    assert resolutions == ["auto", "cpu", "cuda:1"]


def test_an_explicit_device_survives_settings_naming_another(resolutions):
    device = torch.device("cpu", 0)
    copy = make_request(FitSettings(device="auto")).replace(settings=FitSettings(device="cuda"), device=device)
    assert copy.device is device and resolutions == ["auto"]


def test_a_bad_device_is_refused_when_the_request_is_made():
    with pytest.raises(NasdipError, match=r"^unknown device 'tpu'; use auto, cpu or cuda\[:N\]$"):
        make_request(FitSettings(device="tpu"))
    request = make_request()
    with pytest.raises(NasdipError, match=r"^unknown device 'tpu'"):
        request.with_settings(device="tpu")


def test_with_settings_changes_only_the_given_settings():
    request = make_request(FitSettings(device="cpu", ema=0.99, iters=100))
    copy = request.with_settings(iters=7, ema=None, lr=None)
    assert copy.settings == request.settings.replace(iters=7)
    assert copy.settings.ema == 0.99 and request.settings.iters == 100
    assert (copy.task, copy.problem, copy.arch, copy.config) == (request.task, request.problem, request.arch,
                                                                 request.config)


def callback(step, metrics):
    return None


def test_replace_keeps_the_other_fields():
    request = make_request(callbacks=(callback,))
    other = Problem(torch.zeros(1, 3, 8, 8), (8, 8), name="other")
    copy = request.replace(problem=other)
    assert copy.problem is other and request.problem is not other
    assert copy.callbacks == (callback,) and copy.settings is request.settings and copy.run is None


def test_requests_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_request().device = torch.device("cpu")  # type: ignore[misc]


def test_step_work_is_output_pixels_times_width():
    assert make_request().step_work == 16 * 16 * 8
    # Super-resolution: the output (not the observation) is what the network computes.
    task = registry.get("tasks", "sr")(scale=4)
    problem = task.observe(torch.rand(1, 3, 8, 12))
    request = FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=16), FitSettings(device="cpu"))
    assert request.step_work == 32 * 48 * 16
