"""``nasdip compare`` on damaged run directories and unwritable ``--plot`` paths: one line, never a traceback."""

from __future__ import annotations

import json

import pytest

from nasdip.arch.catalog import presets
from nasdip.cli import cli
from nasdip.search.records import Trial

CONFIG = {"searcher": "random", "space": "nasdip", "task": "sr", "task_values": {"scale": 2}, "reward": "psnr",
          "fidelity": {"iters": 10, "crop": 16, "width": 4}, "seed": 0}


def trial(index: int, reward: float | None, status: str = "ok") -> dict:
    arch = presets()["nasdip-sr"]
    return Trial(index=index, round=0, arch=arch.to_dict(), digest=arch.digest, status=status, reward=reward,
                 best_reward=reward, seconds=1.0, elapsed=2.0 + index, fidelity=CONFIG["fidelity"]).to_dict()


def make_run(path, config=CONFIG, trials=(trial(0, 21.5), trial(1, 23.25))):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    (path / "trials.jsonl").write_text("".join(json.dumps(t) + "\n" for t in trials))
    return path


def test_a_hand_made_run_compares(runner, tmp_path):
    result = runner.invoke(cli, ["compare", str(make_run(tmp_path / "run")), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert (row["trials"], row["best_reward"], row["best_trial"], row["seconds"]) == (2, 23.25, 1, 3.0)
    assert row["task"] == "sr (scale=2)"


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: "), result.output
    return result.output.strip()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: (run / "config.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xff"),
         "config.json: not a text file (expected a search run configuration, UTF-8)"),
        (lambda run: (run / "config.json").write_text('{"searcher": "random",'),
         "config.json: not valid JSON (line 1: Expecting property name enclosed in double quotes)"),
        (lambda run: (run / "config.json").write_text("[1, 2]"),
         "config.json: not a search run configuration (a JSON object expected, got list)"),
        (lambda run: (run / "config.json").write_text('{"searcher": "random"}'),
         "config.json: not a search run configuration (no 'task')"),
        (lambda run: (run / "config.json").write_text(json.dumps({**CONFIG, "task_values": [1]})),
         "config.json: 'task_values' must be a JSON object"),
        (lambda run: (run / "trials.jsonl").write_bytes(b"\xff\xfe\x00garbage\n"),
         "trials.jsonl: not a text file (expected a trial log, UTF-8)"),
        (lambda run: (run / "trials.jsonl").write_text(json.dumps({**trial(0, 1.0), "reward": "high"}) + "\n{}\n"),
         "trials.jsonl: line 1 is corrupt"),
        (lambda run: (run / "trials.jsonl").write_text(json.dumps({**trial(0, 1.0), "status": "great"}) + "\n{}\n"),
         "trials.jsonl: line 1 is corrupt"),
        (lambda run: ((run / "trials.jsonl").unlink(), (run / "trials.jsonl").mkdir()),
         "trials.jsonl: cannot read a trial log (Is a directory)"),
    ],
)
def test_damaged_run_files_are_one_line(runner, tmp_path, damage, message):
    run = make_run(tmp_path / "run")
    damage(run)
    line = one_line_error(runner.invoke(cli, ["compare", str(run)]))
    assert message in line and str(run) in line


def test_best_architecture_of_an_unknown_space_does_not_stop_the_comparison(runner, tmp_path):
    foreign = {**trial(0, 30.0), "arch": {"format": "nasdip-arch", "version": 1, "space": "gone", "choices": {}}}
    run = make_run(tmp_path / "run", trials=(foreign,))
    result = runner.invoke(cli, ["compare", str(run)])
    assert result.exit_code == 0, result.output
    assert "(best architecture not shown: arch.space: unknown search space 'gone'" in result.output


def test_plot_below_a_file_is_refused_before_reading_runs(runner, tmp_path):
    (tmp_path / "notes.txt").write_text("in the way")
    plot = tmp_path / "notes.txt" / "curves.png"
    line = one_line_error(runner.invoke(cli, ["compare", str(tmp_path / "no-such-run"), "--plot", str(plot)]))
    assert line == f"Error: --plot {plot}: cannot be written ({tmp_path}/notes.txt is a file); choose another --plot"


def test_plot_into_an_unwritable_folder_is_refused(runner, tmp_path, monkeypatch):
    from nasdip.io import files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    plot = tmp_path / "curves.png"
    line = one_line_error(runner.invoke(cli, ["compare", str(make_run(tmp_path / "run")), "--plot", str(plot)]))
    assert line == (f"Error: --plot {plot}: cannot be written (cannot write in {tmp_path}: Permission denied); "
                    f"choose another --plot")
    assert not plot.exists()
