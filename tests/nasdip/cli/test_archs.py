"""``nasdip archs``: listing, showing presets and files, decoding release indices, errors."""

from __future__ import annotations

import json

from nasdip.arch import save_arch
from nasdip.catalog import presets
from nasdip.cli import cli


def test_list(runner):
    result = runner.invoke(cli, ["archs", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["dip-skip"]["params"] == 2_217_831
    assert rows["nasdip-sr"]["params"] == 3_512_835


def test_show_preset(runner):
    result = runner.invoke(cli, ["archs", "show", "nasdip-sr"])
    assert result.exit_code == 0, result.output
    assert "bicubic -> leaky_relu -> depthwise_conv 5x5 -> leaky_relu (release index 119)" in result.output
    assert "parameters: 3,512,835" in result.output
    assert "    add2    1   1   0   0   1" in result.output


def test_show_file_json(runner, tmp_path):
    path = save_arch(presets()["nasdip-inpaint"], tmp_path / "inpaint.json")
    result = runner.invoke(cli, ["archs", "show", str(path), "--out-channels", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cost"]["params"] == 10_710_273
    assert summary["cost"]["forward_flops"] > 0 and summary["cost"]["step_flops"] == 3 * summary["cost"]["forward_flops"]


def test_invalid_file_is_one_line(runner, tmp_path):
    path = tmp_path / "bad.json"
    document = presets()["nasdip-sr"].to_dict()
    document["choices"]["kernel"] = 9
    path.write_text(json.dumps(document))
    result = runner.invoke(cli, ["archs", "show", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: bad.json.choices.kernel: 9 is not a choice")
    assert result.output.count("\n") == 1


def test_cell_decoding(runner):
    result = runner.invoke(cli, ["archs", "cell", "158"])
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[1])["transform"] == "split_stack_sum"
    assert runner.invoke(cli, ["archs", "cell", "250"]).exit_code == 1
    assert runner.invoke(cli, ["archs", "cell", "400"]).exit_code == 2
