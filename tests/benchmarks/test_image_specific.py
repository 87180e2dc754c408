"""benchmarks/image_specific.py: the table and summary on hand-made results, resuming, the note on a missing
searched preset, and one --quick run end to end."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:  # benchmarks import each other as plain modules
    sys.path.insert(0, str(BENCHMARKS))
import image_specific  # noqa: E402

from nasdip.arch.catalog import presets  # noqa: E402
from nasdip.arch.document import save_arch  # noqa: E402

ARMS = ["dip-skip", "nasdip-denoise", "searched-denoise", "auto"]


def run(psnr: float, cost: float | None = None) -> dict:
    record = {"psnr": psnr, "ssim": 0.8, "steps": 1000, "stop_step": 900, "seconds": 10.0, "wall_seconds": 12.0}
    return record if cost is None else {**record, "cost": cost, "chosen": "nasdip:abc", "same_as": None}


def hand_made(task: str = "denoise") -> dict:
    """Three images: auto beats dip-skip on A and B (+1.0, +0.5) and loses on C (-0.2); beats the searched arm on
    A only (+0.6; B -0.1, C -0.2); beats the release preset everywhere (+1.5, +0.3, +0.8); costs 2, 2.5 and 3."""
    images = {"A": dict(zip(ARMS, [run(28.0), run(27.5), run(28.4), run(29.0, 2.0)], strict=True)),
              "B": dict(zip(ARMS, [run(30.0), run(30.2), run(30.6), run(30.5, 2.5)], strict=True)),
              "C": dict(zip(ARMS, [run(25.0), run(24.0), run(25.0), run(24.8, 3.0)], strict=True))}
    setup = {"task": task, "options": {"sigma": 25.0}, "crop": 128, "width": 32, "seed": 0, "iters": None,
             "device": "auto", "auto_candidates": None, "auto_budget": None, "auto_score": None,
             "auto_workers": None}
    return {"setup": setup, "arms": ARMS, "images": images, "baseline": "noisy",
            "baselines": {"A": 20.1, "B": 20.2, "C": 20.3}, "machine": "a CPU", "command": "python x.py"}


def test_summary_gains_wins_losses_and_means():
    found = image_specific.summary(hand_made())
    versus = found["versus"]
    assert versus["dip-skip"]["mean"] == pytest.approx((1.0 + 0.5 - 0.2) / 3)
    assert (versus["dip-skip"]["won"], versus["dip-skip"]["lost"]) == (["A", "B"], ["C"])
    assert versus["searched-denoise"]["mean"] == pytest.approx((0.6 - 0.1 - 0.2) / 3)
    assert (versus["searched-denoise"]["won"], versus["searched-denoise"]["lost"]) == (["A"], ["B", "C"])
    assert versus["nasdip-denoise"]["mean"] == pytest.approx((1.5 + 0.3 + 0.8) / 3)
    assert versus["nasdip-denoise"]["lost"] == [] and versus["dip-skip"]["tied"] == []
    assert found["means"]["auto"]["psnr"] == pytest.approx((29.0 + 30.5 + 24.8) / 3)
    assert found["means"]["dip-skip"] == pytest.approx({"psnr": 83 / 3, "ssim": 0.8, "steps": 1000, "stop_step": 900,
                                                       "seconds": 10.0, "wall_seconds": 12.0, "n": 3})
    assert (found["cost"], found["max_cost"]) == (pytest.approx(2.5), 3.0)


def test_tables_print_gains_wins_and_the_target():
    results = hand_made()
    rows = image_specific.image_table(results)
    assert rows[0].startswith("denoise: PSNR") and "auto-dip-skip" in rows[1] and "auto-searched-denoise" in rows[1]
    assert re.fullmatch(r"  A +20\.10 +28\.00 +27\.50 +28\.40 +29\.00 +\+1\.00 +\+0\.60 +2\.00  nasdip:abc", rows[2])
    assert re.fullmatch(r"  C +20\.30 +25\.00 +24\.00 +25\.00 +24\.80 +-0\.20 +-0\.20 +3\.00  nasdip:abc", rows[4])
    lines = image_specific.summary_lines(results)
    assert re.match(r"  auto +3 +28\.10 +0\.800 +1000 +900 +10\.0 +12\.0$", lines[4])
    assert "  auto - dip-skip: mean +0.43 dB; won 2 (A, B), lost 1 (C)" in lines
    assert "  auto - searched-denoise: mean +0.10 dB; won 1 (A), lost 2 (B, C)" in lines
    assert "auto cost: mean 2.50 plain fits (max 3.00)" in lines[-2]
    assert lines[-1].endswith(": not met")  # +0.43 dB < +0.5 dB
    results["images"]["C"]["auto"]["psnr"] = 25.6  # gains +1.0, +0.5, +0.6 over dip-skip; +0.6 -0.1 +0.6 searched
    assert image_specific.summary_lines(results)[-1].endswith(": met")
    footer = image_specific.footer(results)
    assert footer[0] == "machine: a CPU" and footer[-1] == "command: python x.py"
    assert "3 images, 128x128 centre crops, width 32" in footer[1]


def test_a_missing_searched_preset_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(image_specific, "presets", lambda: {name: None for name in ("dip-skip", "searched-denoise")})
    assert image_specific.arms("denoise") == (["dip-skip", "nasdip-denoise", "searched-denoise", "auto"], [])
    names, notes = image_specific.arms("sr")
    assert names == ["dip-skip", "nasdip-sr", "auto"]
    assert notes == ["note: no preset 'searched-sr' is registered (no dataset search for sr yet): that arm is skipped"]
    results = {**hand_made(), "arms": ["dip-skip", "nasdip-denoise", "auto"]}
    assert image_specific.summary_lines(results)[-1].endswith("(not run), <= 3 plain fits): not met")  # +0.43 dB
    results["images"]["C"]["auto"]["psnr"] = 25.6  # +0.70 dB over dip-skip: the target hangs on the searched arm
    assert image_specific.summary_lines(results)[-1].endswith("(not run), <= 3 plain fits): not decided")


def fake_restore(calls: list, arch_file: Path):
    """A stand-in for one ``nasdip restore`` process: records the arm and returns a report."""

    def restore(command, what):
        arm = command[command.index("--arch") + 1]
        calls.append(arm)
        report = {"arch": arm, "psnr": 30.0 + len(calls), "ssim": 0.9, "psnr_max": 31.0, "iters": 60,
                  "stop_step": 60, "stop_reason": "cap", "seconds": 1.0, "noisy_psnr": 20.0}
        if arm == "auto":
            report.update(auto={"cost": 1.02}, arch_file=str(arch_file))
        return report, 2.0

    return restore


def test_a_rerun_restores_only_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(image_specific, "presets", lambda: {**presets(), "searched-denoise": presets()["dip-skip"]})
    arch_file = save_arch(presets()["nasdip-denoise"].replace(name="auto-x"), tmp_path / "auto-x.json")
    calls: list[str] = []
    monkeypatch.setattr(image_specific, "run_restore", fake_restore(calls, arch_file))
    args = image_specific.parse(["--quick", "--task", "denoise", "--out", str(tmp_path / "r.json")])
    path = tmp_path / "r.json"
    first = image_specific.measure_task("denoise", args, path)
    (image,) = first["images"]
    assert calls == ARMS and json.loads(path.read_text()) == first
    assert first["images"][image]["auto"]["same_as"] == "nasdip-denoise"
    assert first["images"][image]["auto"]["cost"] == 1.02
    saved = json.loads(path.read_text())
    for arm in ("searched-denoise", "auto"):
        del saved["images"][image][arm]
    path.write_text(json.dumps(saved))
    calls.clear()
    again = image_specific.measure_task("denoise", args, path)
    assert calls == ["searched-denoise", "auto"]
    assert again["images"][image]["dip-skip"] == first["images"][image]["dip-skip"]
    calls.clear()
    image_specific.measure_task("denoise", args, path)
    assert calls == []  # everything saved: nothing restored
    saved = json.loads(path.read_text())
    del saved["setup"]["auto_reward"]  # results saved before the option existed: it was not given
    path.write_text(json.dumps(saved))
    image_specific.measure_task("denoise", args, path)
    assert calls == []
    other = image_specific.parse(["--quick", "--task", "denoise", "--width", "12"])
    with pytest.raises(SystemExit, match="choose another --out"):
        image_specific.measure_task("denoise", other, path)


def test_the_restore_command_is_the_cli_s(tmp_path):
    args = image_specific.parse(["--task", "sr", "--auto-budget", "2", "--width", "16"])
    inputs = {"observation": tmp_path / "baby.png", "gt": tmp_path / "baby_gt.png"}
    command = image_specific.restore_command("sr", "auto", inputs, tmp_path / "auto", args)
    assert command[:3] == list(image_specific.NASDIP) and command[3:5] == ["restore", str(inputs["observation"])]
    text = " ".join(command[5:])
    assert "--task sr --scale 4 --gt" in text and "--arch auto --width 16 --seed 0" in text
    assert text.endswith("--json --quiet --auto-budget 2.0") and "--iters" not in text
    masked = image_specific.restore_command("inpaint", "dip-skip", {**inputs, "mask": tmp_path / "m.png"},
                                            tmp_path, args)
    assert "--mask" in masked and "--drop" not in masked and "--auto-budget" not in masked


def test_quick_run_end_to_end_and_from_saved_results(tmp_path, capsys):
    out = str(tmp_path / "{task}.json")
    image_specific.main(["--quick", "--task", "denoise", "--out", out])
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "denoise.json").read_text())
    (runs,) = results["images"].values()
    assert list(runs) == results["arms"] and results["arms"][0] == "dip-skip" and results["arms"][-1] == "auto"
    for record in runs.values():
        assert record["steps"] == 60 and 5 < record["psnr"] < 50 and record["wall_seconds"] > 0
    assert 0.9 < runs["auto"]["cost"] < 1.2 and runs["auto"]["digest"]  # iters 60: chosen by the score alone
    assert "auto - dip-skip: mean" in printed and "auto cost: mean" in printed
    assert "machine: " in printed and "--quick --task denoise" in printed
    image_specific.main(["--quick", "--task", "denoise", "--out", out, "--table-only"])
    table = capsys.readouterr().out
    assert table == printed[printed.index("denoise: PSNR (dB)"):]
