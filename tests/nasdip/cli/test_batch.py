"""``nasdip restore DIR`` on folders of tiny images: every image restored in turn (one JSON line each, a summary
table), ``--arch auto`` choosing per image, ground truths matched by name, every input checked before the first
fit, and an image that fails at run time reported while the others are restored."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from nasdip.cli import cli
from nasdip.cli.batch import summary_lines
from nasdip.errors import NasdipError
from nasdip.fit import restoration
from nasdip.io.images import save_image

TINY = ["--iters", "30", "--width", "8", "--device", "cpu", "--quiet"]


def restore(runner, *args):
    return runner.invoke(cli, ["restore", *args, *TINY], catch_exceptions=False)


def folder(path: Path, names=("a", "b"), side: int = 16) -> str:
    """A folder of random ``side`` x ``side`` RGB images named ``names``."""
    path.mkdir()
    for seed, name in enumerate(names):
        save_image(path / f"{name}.png", torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed)))
    return str(path)


def test_every_image_is_restored_one_json_line_each(runner, tmp_path):
    images, out = folder(tmp_path / "in"), tmp_path / "out"
    result = restore(runner, images, "--task", "denoise", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [report["image"] for report in reports] == ["a", "b"]
    assert [report["output"] for report in reports] == [str(out / "a_denoise.png"), str(out / "b_denoise.png")]
    assert all(Path(report["comparison"]).is_file() for report in reports)


def test_without_json_each_report_is_headed_and_a_table_sums_up(runner, tmp_path):
    result = restore(runner, folder(tmp_path / "in"), "--task", "denoise", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"[1/2] {tmp_path / 'in' / 'a.png'}" and f"[2/2] {tmp_path / 'in' / 'b.png'}" in lines
    table = lines[lines.index("denoise (sigma=25.0): 2 of 2 images restored") + 1:]
    assert table[0].split() == ["image", "arch", "steps", "seconds"]  # no ground truth: no PSNR column
    assert [row.split()[:3] for row in table[1:]] == [["a.png", "nasdip-denoise", "30"], ["b.png", "nasdip-denoise", "30"]]


def test_auto_chooses_an_architecture_for_each_image(runner, tmp_path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    result = restore(runner, folder(tmp_path / "in"), "--task", "denoise", "--arch", "auto", "--auto-candidates",
                     "4", "--auto-budget", "1", "--out", str(out), "--logdir", str(logs))  # chosen by the score
    assert result.exit_code == 0, result.output
    for name in ("a", "b"):
        document = json.loads((out / f"{name}_denoise_arch.json").read_text())
        assert document["name"] == f"auto-{name}" and document["meta"]["image"] == name
        assert (logs / f"{name}_auto" / "trials.jsonl").is_file()  # a selection run of its own
    assert "auto cost (fits)" in result.stdout and result.stdout.count("chose auto-") == 2


def test_ground_truths_are_matched_by_name(runner, tmp_path):
    images = folder(tmp_path / "in", names=("b", "a"))
    truths = folder(tmp_path / "gt", names=("a", "b", "c"))  # c has no image: left alone
    result = restore(runner, images, "--task", "denoise", "--gt", truths, "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    reports = {report["image"]: report for report in map(json.loads, result.stdout.splitlines())}
    assert set(reports) == {"a", "b"} and all(report["psnr"] is not None for report in reports.values())
    text = restore(runner, images, "--task", "denoise", "--gt", truths, "--out", str(tmp_path / "out"))
    assert "PSNR (dB)" in text.stdout


@pytest.mark.parametrize(("setup", "args", "code", "message"), [
    ("missing-gt", ["in", "--gt", "gt"], 2, "in/b.png: no ground truth of its name (b.*) in --gt gt"),
    ("empty", ["empty"], 1, "empty: no images (.png, "),
    ("gt-file", ["in", "--gt", "in/a.png"], 2, "--gt in/a.png is not a folder: with a folder IMAGE (in) give a folder "
                                              "of ground truths named like its images"),
    ("gt-folder", ["in/a.png", "--gt", "in"], 2, "--gt in is a folder: it goes with a folder IMAGE"),
    ("too-small", ["in"], 1, "in/c.png: image is 4x4; task 'denoise' needs at least 11x11 pixels"),
    ("same-name", ["in"], 2, "in: a.jpg and a.png are both named 'a', so their outputs would be confused"),
    ("auto-score", ["in", "--arch", "auto", "--auto-score", "holdout"], 2, "reward 'holdout' needs a fit"),
])
def test_bad_input_is_one_line_before_any_fit(runner, tmp_path, monkeypatch, setup, args, code, message):
    monkeypatch.chdir(tmp_path)
    folder(tmp_path / "in")
    if setup == "missing-gt":
        folder(tmp_path / "gt", names=("a",))
    if setup == "empty":
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "notes.txt").write_text("no images here")
    if setup == "too-small":  # sorted last: refused before a and b are fitted
        save_image(tmp_path / "in" / "c.png", torch.rand(1, 3, 4, 4))
    if setup == "same-name":
        save_image(tmp_path / "in" / "a.jpg", torch.rand(1, 3, 16, 16))
    result = runner.invoke(cli, ["restore", *args, "--task", "denoise", "--out", "out", *TINY])
    assert result.exit_code == code, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_image_that_fails_at_run_time_is_reported_and_the_others_restored(runner, tmp_path, monkeypatch):
    real = restoration.restore

    def restore_or_fail(request, *args, **kwargs):
        if request.problem.name == "a":
            raise NasdipError("the fit went wrong")
        return real(request, *args, **kwargs)

    monkeypatch.setattr(restoration, "restore", restore_or_fail)
    images, out = folder(tmp_path / "in"), tmp_path / "out"
    result = restore(runner, images, "--task", "denoise", "--out", str(out))
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'in' / 'a.png'}: the fit went wrong" in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1] == "Error: 1 of 2 images failed: a.png (their errors are above)"
    assert (out / "b_denoise.png").is_file() and not (out / "a_denoise.png").exists()
    assert "denoise (sigma=25.0): 1 of 2 images restored" in result.stdout
    as_json = restore(runner, images, "--task", "denoise", "--out", str(out), "--json")
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert as_json.exit_code == 1 and lines[0]["error"].endswith("the fit went wrong") and lines[1]["image"] == "b"


def test_the_summary_marks_failed_images_and_shows_scores_and_costs():
    task = SimpleNamespace(score_name="psnr", score_unit="dB", describe=lambda: "sr (scale=4)")
    done = {"arch": "auto-a", "iters": 2000, "seconds": 81.25, "psnr": 27.314, "auto": {"cost": 2.7}}
    lines = summary_lines(task, [(Path("a.png"), done), (Path("long-name.png"), None)], auto=True)
    assert lines == ["", "sr (scale=4): 1 of 2 images restored",
                     "  image          arch    steps  seconds  PSNR (dB)  auto cost (fits)",
                     "  a.png          auto-a   2000     81.2      27.31              2.70",
                     "  long-name.png  failed      -        -          -                 -"]
