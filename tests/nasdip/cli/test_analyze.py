"""``nasdip analyze``: table, JSON, figure, and one-line errors."""

from __future__ import annotations

import json

from nasdip.cli import cli


def test_table_json_and_plot(runner, tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(40)
    run = search_run(tmp_path / "rs", samples)
    result = runner.invoke(cli, ["analyze", str(run), "--plot", str(tmp_path / "d.png")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "space nasdip, task sr (scale=4), reward psnr (dB): 40 evaluated trials (rung=0, iters=5, crop=32, width=8)"
    assert lines[-1] == f"wrote {tmp_path / 'd.png'}"
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")
    data = json.loads(runner.invoke(cli, ["analyze", str(run), "--json"]).output)
    assert data["evaluated"] == 40 and {d["name"] for d in data["decisions"][:3]} == {"spatial", "add3_e2", "activation"}
    assert lines[3].split()[:2] == [data["decisions"][0]["name"], f"{data['decisions'][0]['importance']:.2f}"]
    spatial = next(d for d in data["decisions"] if d["name"] == "spatial")
    bicubic = next(c for c in spatial["choices"] if c["choice"] == "bicubic")
    picked = [reward for choices, reward in samples if choices["spatial"] == "bicubic"]
    assert bicubic["n"] == len(picked) and abs(bicubic["mean"] - sum(picked) / len(picked)) < 1e-9


def test_mistakes_are_one_line(runner, tmp_path, synthetic_samples, search_run):
    result = runner.invoke(cli, ["analyze", str(tmp_path)])
    assert result.exit_code == 1 and result.output == f"Error: {tmp_path}: not a search run directory (no config.json)\n"
    _, samples = synthetic_samples(6)
    search_run(tmp_path / "a", samples)
    search_run(tmp_path / "b", samples, reward="ssim")
    result = runner.invoke(cli, ["analyze", str(tmp_path / "a"), str(tmp_path / "b"), "--plot", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert result.output.startswith("Error: the runs differ in reward") and not (tmp_path / "x.png").exists()
