"""What a fit returns: the fields of ``FitResult`` (defaults and a real fit's values), and ``FitDiverged`` as a
one-line ``NasdipError``."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.errors import NasdipError
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.result import FitDiverged, FitResult
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig

REQUIRED = ["output", "metrics", "losses", "scores", "iters", "seconds", "rollbacks", "settings", "device"]


def minimal(**changes) -> FitResult:
    values = {"output": torch.zeros(1, 3, 2, 2), "metrics": {}, "losses": [0.5], "scores": [20.0], "iters": 1,
              "seconds": 0.1, "rollbacks": 0, "settings": FitSettings(), "device": "cpu"}
    return FitResult(**{**values, **changes})


def test_the_required_fields_come_first_in_order():
    fields = dataclasses.fields(FitResult)
    assert [field.name for field in fields[: len(REQUIRED)]] == REQUIRED
    assert all(field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
               for field in fields[: len(REQUIRED)])


def test_optional_fields_have_their_documented_defaults():
    result = minimal()
    assert result.extras == {} and result.heldout == []
    assert (result.precision, result.stop_reason, result.packed, result.compiled) == ("fp32", "iters", 1, False)


def test_each_result_gets_its_own_extras_and_heldout():
    first, second = minimal(), minimal()
    first.extras["map"] = torch.ones(1)
    first.heldout.append(0.1)
    assert second.extras == {} and second.heldout == []


def test_fit_diverged_is_a_nasdip_error_with_its_message():
    assert issubclass(FitDiverged, NasdipError)
    with pytest.raises(NasdipError, match=r"^the fit diverged; lower --lr$") as caught:
        raise FitDiverged("the fit diverged; lower --lr")
    assert type(caught.value) is FitDiverged


def test_a_real_fit_fills_every_field():
    task = registry.get("tasks", "denoise")()
    problem = builtin_problem(task, seed=0, crop=32)
    settings = task.settings().replace(iters=12, device="cpu", precision="fp32", sync_every=4)
    result = task.fit(FitRequest(task, problem, presets()["dip-skip"], NetConfig(width=8, depth=3), settings))
    assert result.output.shape == problem.clean.shape and result.output.dtype == torch.float32
    assert result.output.device.type == "cpu" and result.output.is_contiguous()
    assert result.iters == 12 and len(result.losses) == 12 and len(result.scores) == 12
    assert all(math.isfinite(value) for value in result.losses + result.scores)
    assert result.settings is settings and result.device == "cpu" and result.precision == "fp32"
    assert (result.rollbacks, result.stop_reason, result.packed, result.compiled) == (0, "iters", 1, False)
    assert result.extras == {} and result.heldout == [] and result.seconds > 0
    assert set(result.metrics) == {"stop_step", "psnr", "ssim", "psnr_max", "psnr_max_step"}
    assert result.metrics["stop_step"] == 12
    assert result.metrics["psnr"] == pytest.approx(task.metrics(result.output, problem.clean)["psnr"], abs=1e-4)
    # The oracle is the best of every step's score and the returned output's.
    best = max([*result.scores, result.metrics["psnr"]])
    assert result.metrics["psnr_max"] == pytest.approx(best)
    step = result.metrics["psnr_max_step"]
    assert 1 <= step <= 12 and result.scores[step - 1] == pytest.approx(best, abs=1e-4)
