"""The public API (``nasdip``): every exported name resolves, the import stays light, a fit through it works."""

from __future__ import annotations

import importlib
import inspect
import math
import subprocess
import sys

import pytest
import torch

import nasdip
from nasdip.arch.document import Arch
from nasdip.search.searcher import Searcher

LIGHT = ("Searcher", "Space", "Reward", "Executor", "Option", "Arch")


@pytest.mark.parametrize("name", nasdip.__all__)
def test_every_public_name_resolves(name):
    value = getattr(nasdip, name)
    assert value is not None
    assert name in vars(nasdip)  # cached after the first look-up


@pytest.mark.parametrize("name", [name for name in nasdip.__all__ if name not in ("__version__", "hookimpl")])
def test_every_public_name_is_the_object_its_module_defines(name):
    module = importlib.import_module(nasdip._EXPORTS[name])
    expected = module if module.__name__ == f"nasdip.{name}" else getattr(module, name)
    assert getattr(nasdip, name) is expected
    assert name == "registry" or not inspect.ismodule(expected)  # only the registry is exported as a module


def test_public_classes_are_the_ones_behind_the_modules():
    assert nasdip.Arch is Arch and nasdip.Searcher is Searcher
    assert nasdip.registry is importlib.import_module("nasdip.registry")  # a module exported under its own name
    assert issubclass(nasdip.UsageError, nasdip.NasdipError) and issubclass(nasdip.ArchError, nasdip.NasdipError)


def test_the_version_is_a_dotted_number():
    assert all(part.isdigit() for part in nasdip.__version__.split("."))
    assert nasdip.__all__[:2] == ["__version__", "hookimpl"]


def test_import_and_the_light_names_load_no_torch():
    """Checked in a fresh interpreter; a fitting name then loads torch (the check can see it)."""
    script = ("import sys\nimport nasdip\nloaded = ['torch' in sys.modules]\n"
              f"for name in {LIGHT!r}:\n    getattr(nasdip, name)\n    loaded.append('torch' in sys.modules)\n"
              "nasdip.FitRequest\nloaded.append('torch' in sys.modules)\nprint(loaded)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str([False] * (len(LIGHT) + 1) + [True]), result.stdout + result.stderr


def test_an_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match=r"^module 'nasdip' has no attribute 'Sercher'$"):
        nasdip.Sercher  # noqa: B018
    assert not hasattr(nasdip, "no_such_name")
    assert getattr(nasdip, "no_such_name", "fallback") == "fallback"


def test_dir_lists_the_public_names():
    listed = dir(nasdip)
    assert set(nasdip.__all__) <= set(listed)
    assert listed == sorted(listed)


def test_hookimpl_marks_nasdip_hooks():
    @nasdip.hookimpl
    def run_started(run):
        pass

    assert hasattr(run_started, "nasdip_impl")


@pytest.fixture
def one_thread():
    """Tiny fits run fastest, and steadiest on a busy machine, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_tiny_fit_through_the_public_api(one_thread):
    task = nasdip.registry.get("tasks", "denoise")()
    problem = nasdip.builtin_problem(task, 0, 16)
    request = nasdip.FitRequest(task, problem, nasdip.resolve_arch("dip-skip"), nasdip.NetConfig(width=4),
                                nasdip.FitSettings(iters=3, device="cpu", precision="fp32", seed=1))
    result = task.fit(request)
    assert isinstance(result, nasdip.FitResult)
    assert result.iters == 3 and len(result.losses) == 3 and result.precision == "fp32"
    assert result.output.shape == problem.clean.shape == (1, 3, 16, 16)
    mse = (result.output.float() - problem.clean.float()).square().mean().item()
    assert result.metrics["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)
    again = task.fit(request)
    assert torch.equal(again.output, result.output)  # the same seed gives the same fit
