"""Timing machinery: windows of steps after a warm-up, medians and spreads, peak memory and the machine line."""

from __future__ import annotations

import os
import re
import resource

import pytest
import torch

from nasdip.fit.device import bf16_supported
from nasdip.report import timing
from nasdip.report.timing import (
    StepTiming,
    machine_description,
    peak_memory,
    reset_peak_memory,
    time_stepper,
    time_windows,
)

CPU = torch.device("cpu")


class FakeClock:
    """``perf_counter`` that moves only when a step says how long it took."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_time_windows_runs_warmup_then_every_window():
    calls = []
    samples = time_windows(lambda: calls.append(1), CPU, warmup=2, windows=3, window=4)
    assert len(calls) == 2 + 3 * 4 and len(samples) == 3


def test_time_windows_gives_seconds_per_step_of_each_window(clock):
    warmup, windows = [9.0, 9.0], [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [4.0, 0.0, 2.0]]
    durations = iter([*warmup, *(seconds for window in windows for seconds in window)])

    def step():
        clock.now += next(durations)

    samples = time_windows(step, CPU, warmup=2, windows=3, window=3)
    assert samples == pytest.approx([2.0, 0.5, 2.0])  # the slow warm-up steps are not counted


def test_no_windows_no_samples():
    calls = []
    assert time_windows(lambda: calls.append(1), CPU, warmup=1, windows=0, window=5) == []
    assert calls == [1]


class Stepper:
    """A fitter stand-in: due for a synchronisation every ``every`` steps."""

    def __init__(self, every: int):
        self.every, self.steps, self.synchronised = every, 0, []

    def step(self):
        self.steps += 1

    def due(self):
        return self.steps % self.every == 0

    def synchronise(self):
        self.synchronised.append(self.steps)


def test_time_stepper_steps_and_synchronises_when_due():
    stepper = Stepper(every=4)
    samples = time_stepper(stepper, CPU, warmup=3, windows=2, window=5)
    assert len(samples) == 2 and stepper.steps == 13
    assert stepper.synchronised == [4, 8, 12]


def test_step_timing_median_and_spread():
    odd = StepTiming("plain", "fp32", [0.3, 0.1, 0.2], peak_bytes=1024)
    assert odd.median == 0.2 and odd.spread == (0.1, 0.3)
    even = StepTiming("nasdip", "bf16", [4.0, 1.0, 2.0, 10.0], peak_bytes=0)
    assert even.median == 3.0 and even.spread == (1.0, 10.0)


def test_step_timing_to_dict():
    assert StepTiming("2 packed", "fp32", [0.5, 0.25, 1.0], 2048).to_dict() == {
        "label": "2 packed", "precision": "fp32", "median_s": 0.5, "min_s": 0.25, "max_s": 1.0, "peak_bytes": 2048}


def test_step_timing_of_no_samples_has_no_median():
    with pytest.raises(ValueError):
        StepTiming("x", "fp32", [], 0).median  # noqa: B018


def resident_bytes() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not timing.STATUS.exists(), reason="needs Linux /proc/self/status")
def test_cpu_peak_memory_is_at_least_the_resident_set():
    resident = resident_bytes()  # first: the high-water mark read after it cannot be below it (RSS may grow)
    peak = peak_memory(CPU)
    assert isinstance(peak, int) and peak >= resident > 0


@pytest.mark.skipif(not timing.CLEAR_REFS.exists(), reason="needs Linux /proc/self/clear_refs")
def test_cpu_peak_memory_rises_with_an_allocation_after_a_reset():
    reset_peak_memory(CPU)
    before = resident_bytes()
    block = torch.ones(16 * 2**20)  # 64 MiB, touched
    assert peak_memory(CPU) >= before + 60 * 2**20
    del block


def test_without_proc_status_the_peak_is_the_process_maximum(monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "STATUS", tmp_path / "no-status")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak = peak_memory(CPU)
    assert before <= peak <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_reset_without_clear_refs_does_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "CLEAR_REFS", tmp_path / "no-clear-refs")
    reset_peak_memory(CPU)
    assert not (tmp_path / "no-clear-refs").exists()


def test_a_reset_that_cannot_write_clear_refs_is_quiet(monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "CLEAR_REFS", tmp_path)  # a folder: writing it raises IsADirectoryError
    reset_peak_memory(CPU)


def test_machine_description_names_cpu_bf16_torch_and_threads():
    line = machine_description(CPU)
    native = "native bf16" if bf16_supported(CPU) else "no native bf16"
    assert line.endswith(f" ({native}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    cpuinfo = timing.Path("/proc/cpuinfo")
    if cpuinfo.exists() and (found := re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())):
        assert line.startswith(f"{found.group(1).strip()} (")


@pytest.fixture
def fake_cpuinfo(monkeypatch, tmp_path):
    """``fake_cpuinfo(text)``: ``/proc/cpuinfo`` reads as ``text`` (``None``: it does not exist)."""
    real = timing.Path

    def install(text: str | None):
        fake = tmp_path / "cpuinfo"
        if text is not None:
            fake.write_text(text)
        monkeypatch.setattr(timing, "Path", lambda path: fake if str(path) == "/proc/cpuinfo" else real(path))

    return install


def test_the_cpu_model_comes_from_cpuinfo(fake_cpuinfo, monkeypatch):
    fake_cpuinfo("processor\t: 0\nvendor_id\t: Made Up\nmodel name\t: Fancy CPU 9000 @ 3.0GHz  \nflags\t: avx\n")
    monkeypatch.setattr(timing, "bf16_supported", lambda device: True)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert machine_description(CPU) == f"Fancy CPU 9000 @ 3.0GHz (native bf16), torch {torch.__version__}, 3 threads"


def test_without_a_model_name_the_platform_processor_is_used(fake_cpuinfo, monkeypatch):
    fake_cpuinfo("processor\t: 0\nFeatures\t: fp asimd\n")  # an ARM cpuinfo
    monkeypatch.setattr(timing.platform, "processor", lambda: "aarch64")
    monkeypatch.setattr(timing, "bf16_supported", lambda device: False)
    assert machine_description(CPU).startswith("aarch64 (no native bf16), torch ")


def test_an_unknown_processor_is_said(fake_cpuinfo, monkeypatch):
    fake_cpuinfo(None)
    monkeypatch.setattr(timing.platform, "processor", lambda: "")
    assert machine_description(CPU).startswith("unknown CPU (")
