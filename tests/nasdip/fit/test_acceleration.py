"""When ``auto`` compiles a fit or captures its step as a CUDA graph: the measured thresholds, and forced values."""

from __future__ import annotations

import pytest
import torch

from nasdip.errors import NasdipError
from nasdip.fit.acceleration import (
    COMPILE_MIN_STEPS,
    COMPILE_MIN_WORK,
    GRAPH_MAX_WORK,
    check_switch,
    resolve_compile,
    resolve_cuda_graphs,
)

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
LARGE = 256 * 256 * 128  # the size where compiling was measured to pay


def test_the_thresholds_are_the_measured_sizes():
    assert COMPILE_MIN_WORK == LARGE and COMPILE_MIN_STEPS >= 4 * 250  # repaid after about 250 steps
    assert GRAPH_MAX_WORK == 128 * 128 * 128


@pytest.mark.parametrize(("device", "precision", "work", "iters", "expected"), [
    (CPU, "fp32", LARGE, 2000, True),
    (CPU, "fp32", LARGE, COMPILE_MIN_STEPS, True),
    (CPU, "fp32", LARGE, COMPILE_MIN_STEPS - 1, False),  # too short to repay the compilation
    (CPU, "fp32", 128 * 128 * 128, 3000, False),  # 128x128: no faster
    (CPU, "bf16", LARGE, 3000, False),  # bf16: slower compiled
    (CUDA, "fp32", LARGE, 3000, False),  # not measured on GPUs
])
def test_auto_compiles_only_where_it_was_measured_to_pay(device, precision, work, iters, expected):
    assert resolve_compile("auto", device, precision, work, iters) is expected


def test_forced_compile_values_win():
    assert resolve_compile(True, CPU, "bf16", 1, 1) is True
    assert resolve_compile(False, CPU, "fp32", LARGE, 3000) is False


@pytest.mark.parametrize(("setting", "device", "compiled", "work", "expected"), [
    ("auto", CUDA, False, GRAPH_MAX_WORK, True),
    ("auto", CUDA, False, GRAPH_MAX_WORK + 1, False),
    (True, CUDA, False, 10 * GRAPH_MAX_WORK, True),
    (False, CUDA, False, 1, False),
    ("auto", CUDA, True, 1, False),  # a compiled network: no capture of our own
    (True, CPU, False, 1, False),  # CUDA graphs need CUDA: the CPU path is untouched
])
def test_cuda_graphs_only_on_cuda_and_for_small_steps(setting, device, compiled, work, expected):
    assert resolve_cuda_graphs(setting, device, compiled, work) is expected


@pytest.mark.parametrize("value", ["auto", True, False])
def test_switch_values_are_accepted(value):
    check_switch("compile", value)


@pytest.mark.parametrize("value", ["on", "yes", 1, 0, None])
def test_other_switch_values_are_one_line_errors(value):
    with pytest.raises(NasdipError, match=r"^compile must be auto, True or False, got "):
        check_switch("compile", value)
