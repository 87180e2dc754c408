"""benchmarks/score_agreement.py: its rank statistics on hand-made numbers, and a --quick run end to end."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # it imports its sibling benchmarks as plain modules
spec = importlib.util.spec_from_file_location("score_agreement", BENCHMARKS / "score_agreement.py")
score_agreement = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score_agreement)


def test_top_share_regret_is_the_best_truth_missed_by_the_kept_candidates():
    truth = [float(v) for v in range(20)]  # candidate 19 is the best
    predicted = [-v for v in truth]  # the score ranks it last
    # 10 % of 20 keeps 2: candidates 0 and 1, whose best truth is 1
    assert score_agreement.top_share_regret(predicted, truth) == 18.0
    assert score_agreement.top_share_regret(truth, truth) == 0.0
    assert score_agreement.top_share_regret([1.0, 2.0, 0.0], [5.0, 3.0, 9.0]) == 6.0  # keeps at least one


def test_agreement_uses_the_labels_both_columns_have():
    truth = {"a": 30.0, "b": 29.0, "c": 28.0, "d": 27.0}
    n, tau, regret = score_agreement.agreement({"a": 3.0, "b": 2.0, "c": 1.0, "x": 9.0}, truth)
    assert (n, tau, regret) == (3, 1.0, 0.0)
    n, tau, _ = score_agreement.agreement({"a": 1.0, "b": 2.0}, truth)
    assert n == 2 and math.isnan(tau)  # too few to rank


def test_pooled_means_cover_the_labels_measured_on_every_image():
    per_image = [{"psd": {"a": -1.0, "b": -3.0}}, {"psd": {"a": -2.0, "b": -1.0, "c": 0.0}}]
    assert score_agreement.pooled(per_image, "psd") == {"a": -1.5, "b": -2.0}


def test_columns_split_a_fit_into_truth_and_holdout_and_skip_failures():
    evaluations = {
        "im|a|fit": {"status": "ok", "reward": 30.0, "psnr": 30.0, "holdout": 25.0},
        "im|a|psd": {"status": "ok", "reward": -2.0},
        "im|b|fit": {"status": "failed", "reward": None, "psnr": None, "holdout": None},
        "im|b|psd": {"status": "ok", "reward": -1.0},
    }
    table = score_agreement.columns(evaluations, "im", ["a", "b"], ["psd", "fit"])
    assert table == {"psd": {"a": -2.0, "b": -1.0}, "psnr": {"a": 30.0}, "holdout": {"a": 25.0}}


def test_quick_run_scores_fits_and_self_validates_every_candidate(tmp_path, capsys):
    score_agreement.main(["--quick", "--task", "sr", "--results-dir", str(tmp_path)])
    results = json.loads((tmp_path / "score-agreement-sr.json").read_text())
    archs = score_agreement.candidate_archs(score_agreement.QUICK["archs"], 0, with_presets=False)
    kinds = ("psd", "psd-hist", "lowpass", "fit", "cross-scale")
    assert set(results["evaluations"]) == {f"baby|{label}|{kind}" for label in archs for kind in kinds}
    assert all(row["status"] == "ok" for row in results["evaluations"].values())
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("baby "))
    values = row.split()
    assert int(values[1]) == len(archs)
    taus = [float(v) for v in values[2:7]]
    assert all(-1 <= tau <= 1 for tau in taus)
    assert float(values[-1]) == pytest.approx(max(r["psnr"] for k, r in results["evaluations"].items()
                                                  if k.endswith("|fit")), abs=0.01)
    # a rerun resumes: nothing left to evaluate, the same table
    score_agreement.main(["--quick", "--task", "sr", "--results-dir", str(tmp_path)])
    assert row in capsys.readouterr().out


def test_denoising_is_self_validated_by_recorruption_on_the_images_of_another_folder(tmp_path, capsys, monkeypatch):
    """The measurements are wired (fits replaced by a stand-in): the folder's image named, every kind of denoising
    with ``recorrupted`` and no ``cross-scale``, and an image the folder lacks refused."""
    from types import SimpleNamespace

    from nasdip.io.images import save_image

    folder = tmp_path / "images"
    folder.mkdir()
    for seed, name in enumerate(("first", "second")):  # --quick reads the first image only
        save_image(folder / f"{name}.png", torch.rand(1, 3, 100, 100, generator=torch.Generator().manual_seed(seed)))
    jobs = []

    def evaluate(job):
        jobs.append(job)
        value = float(len(jobs))
        return SimpleNamespace(status="ok", error=None, reward=value, seconds=0.0,
                               metrics={"psnr": value, "holdout_psnr": value, "stop_step": 1})

    monkeypatch.setattr(score_agreement, "evaluate", evaluate)
    args = ["--quick", "--task", "denoise", "--images-dir", str(folder), "--image", "first",
            "--results-dir", str(tmp_path)]
    score_agreement.main(args)
    results = json.loads((tmp_path / "score-agreement-denoise.json").read_text())
    archs = score_agreement.candidate_archs(score_agreement.QUICK["archs"], 0, with_presets=False)
    kinds = ("psd", "psd-hist", "lowpass", "fit", "recorrupted")
    assert set(results["evaluations"]) == {f"first|{label}|{kind}" for label in archs for kind in kinds}
    assert {job.reward for job in jobs} == {"psd", "psd-hist", "lowpass", "psnr", "recorrupted"}
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("image"))
    assert "tau recorrupted" in header and "tau cross-scale" not in header
    with pytest.raises(SystemExit, match=r"--image third: no such image in .*images \(there are: first\)"):
        score_agreement.main([*args[:-4], "--image", "third", "--results-dir", str(tmp_path)])
