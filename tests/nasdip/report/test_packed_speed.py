"""Packed against one-after-another fits: step timings of K members, rows of fits per minute, their table."""

from __future__ import annotations

import pytest
import torch

from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import builtin_problem
from nasdip.fit.request import FitRequest
from nasdip.fit.settings import FitSettings
from nasdip.nn.config import NetConfig
from nasdip.report import packed_speed
from nasdip.report.packed_speed import format_packed_rows, packed_rows, time_members

SETTINGS = FitSettings(iters=500, device="cpu", precision="fp32", seed=7, stop="wmv", stop_window=20)
TIMING = {"warmup": 1, "windows": 2, "window": 2}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny fits run fastest, and steadiest on a busy machine, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def task():
    return registry.get("tasks", "denoise")()


@pytest.fixture(scope="module")
def request_(task):
    return FitRequest(task, builtin_problem(task, 0, 16), presets()["dip-skip"], NetConfig(width=4), SETTINGS)


@pytest.fixture
def built(monkeypatch):
    """The requests each Fitter and PackedFitter is built from, as ``("fitter" | "packed", [requests])``."""
    seen = []
    fitter, packed = packed_speed.Fitter, packed_speed.PackedFitter

    def spy_fitter(request):
        seen.append(("fitter", [request]))
        return fitter(request)

    def spy_packed(requests):
        seen.append(("packed", list(requests)))
        return packed(requests)

    monkeypatch.setattr(packed_speed, "Fitter", spy_fitter)
    monkeypatch.setattr(packed_speed, "PackedFitter", spy_packed)
    return seen


def test_one_member_is_the_plain_engine(request_, built):
    timing = time_members(request_, 1, **TIMING)
    assert (timing.label, timing.precision, len(timing.samples)) == ("1 packed", "fp32", 2)
    assert all(sample > 0 for sample in timing.samples) and timing.peak_bytes > 0
    ((kind, (request,)),) = built
    assert kind == "fitter" and request.settings.iters == 1 + 2 * 2 + 1 and request.settings.stop == "iters"
    assert request.settings.seed == 7


def test_several_members_are_one_pack_of_consecutive_seeds(request_, built):
    timing = time_members(request_, 3, **TIMING)
    assert (timing.label, len(timing.samples)) == ("3 packed", 2)
    ((kind, requests),) = built
    assert kind == "packed" and [r.settings.seed for r in requests] == [7, 8, 9]
    assert {(r.settings.iters, r.settings.stop) for r in requests} == {(6, "iters")}
    assert request_.settings == SETTINGS  # the caller's request is left as it was


def test_packed_rows_cover_every_case_arch_and_member_count(task):
    archs = [presets()["dip-skip"], presets()["nasdip-denoise"]]
    rows = packed_rows(task, archs, [(16, 4)], [1, 2], SETTINGS, iters=100, **TIMING)
    assert [(r["arch"], r["size"], r["width"], r["members"]) for r in rows] == [
        ("dip-skip", 16, 4, 1), ("dip-skip", 16, 4, 2), ("nasdip-denoise", 16, 4, 1), ("nasdip-denoise", 16, 4, 2)]
    for row in rows:
        assert set(row) == {"arch", "size", "width", "members", "precision", "alone", "packed",
                            "sequential_fits_per_minute", "packed_fits_per_minute", "speedup"}
        assert row["precision"] == "fp32" and row["alone"]["label"] == "1 packed"
        assert row["packed"]["label"] == f"{row['members']} packed"
        assert row["sequential_fits_per_minute"] == pytest.approx(60.0 / (row["alone"]["median_s"] * 100))
        assert row["packed_fits_per_minute"] == pytest.approx(
            60.0 * row["members"] / (row["packed"]["median_s"] * 100))
        assert row["speedup"] == pytest.approx(row["packed_fits_per_minute"] / row["sequential_fits_per_minute"])


def test_one_member_rows_reuse_the_single_fit_timing(task):
    (row,) = packed_rows(task, [presets()["dip-skip"]], [(16, 4)], [1], SETTINGS, iters=10, **TIMING)
    assert row["packed"] == row["alone"] and row["speedup"] == pytest.approx(1.0)


def row(arch="dip-skip", members=2, alone=0.02, packed=0.03, iters=100):
    sequential = 60.0 / (alone * iters)
    together = 60.0 * members / (packed * iters)
    return {"arch": arch, "size": 64, "width": 16, "members": members, "precision": "bf16",
            "alone": {"median_s": alone}, "packed": {"median_s": packed},
            "sequential_fits_per_minute": sequential, "packed_fits_per_minute": together,
            "speedup": together / sequential}


def test_format_packed_rows_is_a_table_with_a_title():
    lines = format_packed_rows([row(), row("nasdip-denoise", members=4, alone=0.5, packed=1.0)], iters=100)
    assert lines == [
        "fits of 100 steps per minute, one after another vs packed (median of the timing windows; seconds per step "
        "of one fit and of the pack)",
        "  arch              size width   K  prec  1 fit s/step  pack s/step  seq fits/min  packed fits/min  speed-up",
        "  dip-skip            64    16   2  bf16        0.0200       0.0300          30.0             40.0     1.33x",
        "  nasdip-denoise      64    16   4  bf16        0.5000       1.0000           1.2              2.4     2.00x",
    ]


def test_format_packed_rows_without_rows_is_the_header():
    assert len(format_packed_rows([], iters=5)) == 2
    assert format_packed_rows([], iters=5)[0].startswith("fits of 5 steps per minute")
