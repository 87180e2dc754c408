"""``nasdip archs``: listing, showing presets and files, decoding release indices, errors."""

from __future__ import annotations

import json

import pytest

from nasdip.arch.catalog import presets
from nasdip.arch.document import save_arch
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


def write_document(path, **choices):
    document = presets()["nasdip-sr"].to_dict()
    document["choices"].update(choices)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("make", "code", "line"),
    [
        (lambda d: (d / "cell.bin").write_bytes(bytes(range(256))) and d / "cell.bin", 1,
         "Error: {dir}/cell.bin: not an architecture file (binary, not UTF-8 JSON text)"),
        (lambda d: write_document(d / "s.json", kernel="5"), 1,
         "Error: s.json.choices.kernel: '5' must be a number: write 5 (choose from 1, 3, 5, 7)"),
        (lambda d: write_document(d / "b.json", add1_z=True), 1,
         "Error: b.json.choices.add1_z: expected a string or an integer, got True"),
        (lambda d: (d / "deep.json").write_text("[" * 100000) and d / "deep.json", 1, None),
        (lambda d: d, 1, "Error: {dir}: is a folder, not an architecture file"),
        (lambda d: "nasdip-rs", 2,
         "Error: unknown architecture 'nasdip-rs': no preset or file of that name; did you mean 'nasdip-sr'? presets: "
         "dip-skip, nasdip-denoise, nasdip-inpaint, nasdip-sr, searched-denoise, searched-sr (or an architecture JSON file) (see "
         "'nasdip archs --help')"),
        (lambda d: "zzz", 2, "Error: unknown architecture 'zzz': no preset or file of that name; presets: dip-skip, "),
        (lambda d: d / "gone.json", 1, "Error: {dir}/gone.json: no such architecture file"),
    ],
)
def test_bad_arch_arguments_are_one_line(runner, tmp_path, make, code, line):
    result = runner.invoke(cli, ["archs", "show", str(make(tmp_path))])
    assert result.exit_code == code, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    if line is not None:
        assert result.output.startswith(line.format(dir=tmp_path))


def test_cell_decoding(runner):
    result = runner.invoke(cli, ["archs", "cell", "158"])
    assert result.exit_code == 0
    assert json.loads(result.output.splitlines()[1])["transform"] == "split_stack_sum"
    assert runner.invoke(cli, ["archs", "cell", "250"]).exit_code == 1
    assert runner.invoke(cli, ["archs", "cell", "400"]).exit_code == 2
