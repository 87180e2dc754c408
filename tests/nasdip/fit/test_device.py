"""Device names resolve to torch devices (or one-line errors), and ``auto`` precision picks bf16 only where it is
native and, on CPUs, only for steps of at least ``BF16_MIN_WORK``."""

from __future__ import annotations

import re

import pytest
import torch

from nasdip.errors import NasdipError
from nasdip.fit import device
from nasdip.fit.device import BF16_MIN_WORK, bf16_supported, resolve_device, resolve_precision

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(device, "bf16_supported", lambda dev: True)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(NasdipError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(NasdipError, match="unknown device"):
        resolve_device("tpu")


def test_explicit_devices_resolve_to_themselves():
    assert resolve_device("cpu") == CPU
    assert resolve_device("cpu:0") == torch.device("cpu", 0)


def test_auto_is_cpu_without_cuda(no_cuda):
    assert resolve_device("auto") == CPU


def test_auto_is_cuda_where_cuda_is_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == CUDA


@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_a_one_line_error(no_cuda, name):
    message = f"device '{name}' requested but CUDA is not available; use --device cpu"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["tpu", "gpu", "cpu:x"])
def test_an_unknown_device_is_a_one_line_error(name):
    message = f"unknown device '{name}'; use auto, cpu or cuda[:N]"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$") as caught:
        resolve_device(name)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept_whatever_the_device(monkeypatch, name):
    monkeypatch.setattr(device, "bf16_supported", lambda dev: name == "fp32")  # the opposite of the request
    for dev in (CPU, CUDA):
        for work in (None, 1, 10 * BF16_MIN_WORK):
            assert resolve_precision(name, dev, work) == name


def test_auto_is_fp32_where_bf16_is_not_native(monkeypatch):
    monkeypatch.setattr(device, "bf16_supported", lambda dev: False)
    for dev in (CPU, CUDA):
        assert resolve_precision("auto", dev, 10 * BF16_MIN_WORK) == "fp32"
        assert resolve_precision("auto", dev) == "fp32"


def test_auto_on_a_bf16_cpu_needs_enough_work_per_step(native_bf16):
    assert resolve_precision("auto", CPU, BF16_MIN_WORK - 1) == "fp32"
    assert resolve_precision("auto", CPU, BF16_MIN_WORK) == "bf16"
    assert resolve_precision("auto", CPU, None) == "bf16"  # unknown work: the device decides


def test_the_work_threshold_separates_the_benchmarked_cpu_steps(native_bf16):
    # The comment on BF16_MIN_WORK: 64x64 at width 16 is faster in fp32, 64x64 at width 32 is even, 96x96 at
    # width 32 is faster in bf16.
    assert BF16_MIN_WORK == 2**17
    assert resolve_precision("auto", CPU, 64 * 64 * 16) == "fp32"
    assert resolve_precision("auto", CPU, 64 * 64 * 32) == "bf16"
    assert resolve_precision("auto", CPU, 96 * 96 * 32) == "bf16"


def test_small_steps_keep_bf16_on_a_gpu(native_bf16):
    assert resolve_precision("auto", CUDA, 1) == "bf16"


def test_bf16_support_on_a_cpu_follows_onednn(monkeypatch):
    for available, native, expected in ((True, True, True), (True, False, False), (False, True, False)):
        monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda available=available: available)
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda native=native: native)
        assert bf16_supported(CPU) is expected


def test_bf16_support_on_a_gpu_asks_cuda(monkeypatch):
    for answer in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda answer=answer: answer)
        assert bf16_supported(CUDA) is answer


def test_other_devices_have_no_native_bf16():
    assert bf16_supported(torch.device("meta")) is False


def test_a_cuda_index_beyond_the_machines_gpus_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == CUDA
    message = "device 'cuda:2' requested but this machine has 2 CUDA device(s), cuda:0 to cuda:1; use --device cpu"
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        resolve_device("cuda:2")


@pytest.mark.parametrize(("built", "available", "message"), [
    (False, False, "device 'mps' requested but this torch build has no MPS support; use --device cpu"),
    (True, False, "device 'mps' requested but MPS is not available on this machine; use --device cpu"),
])
def test_mps_where_this_build_or_machine_lacks_it_is_a_one_line_error(monkeypatch, built, available, message):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: built)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available)
    with pytest.raises(NasdipError, match=f"^{re.escape(message)}$"):
        resolve_device("mps")


def test_mps_where_it_is_available_resolves(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("mps") == torch.device("mps")


@pytest.mark.parametrize(("name", "problem"), [
    ("meta", "the meta device holds no data"),
    ("xpu", "this torch build or machine has no xpu device"),
])
def test_other_devices_without_data_or_support_are_one_line_errors(monkeypatch, name, problem):
    if hasattr(torch, "xpu"):
        monkeypatch.setattr(torch.xpu, "is_available", lambda: False)
    with pytest.raises(NasdipError, match=f"^{re.escape(f'device {name!r} requested but {problem}; use --device cpu')}$"):
        resolve_device(name)


def test_device_problem_touches_no_device(monkeypatch):
    # Checking must not create a CUDA context (a search checks in the parent of its worker processes).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for name in ("init", "_lazy_init"):
        monkeypatch.setattr(torch.cuda, name, lambda: pytest.fail("CUDA was initialised"))
    assert device.device_problem(torch.device("cuda:0")) is None
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
