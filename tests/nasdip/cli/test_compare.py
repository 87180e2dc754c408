"""``nasdip compare`` on hand-made run directories: the table, its per-run lines, ``--json`` and ``--plot``."""

from __future__ import annotations

import json

import pytest

from nasdip import registry
from nasdip.arch.document import Arch
from nasdip.cli import cli
from nasdip.search.records import Trial
from nasdip.search.rundir import RunDirectory

LEGEND = ("best: the best reward ({rewards}) at the top rung; input: what the observation itself scores (the task's "
          "naive restoration: noisy, bicubic, masked input)")


def summary_line(choices: dict, space: str = "nasdip") -> str:
    """The first line describing an architecture, as the table shows it under its run."""
    found = registry.get("spaces", space)
    lines = [line for line in found.describe(Arch(space, dict(choices))) if not line.startswith("backbone")]
    return f"    {lines[0]}"


def invoke(runner, *arguments):
    result = runner.invoke(cli, ["compare", *map(str, arguments)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def two_runs(tmp_path, search_run, synthetic_samples):
    """``random-sr`` (six trials, the third failed) and ``denoise-all-failed`` (two failed trials)."""
    _, samples = synthetic_samples(6, seed=3)
    samples[2] = (samples[2][0], None)
    first = search_run(tmp_path / "random-sr", samples)
    second = search_run(tmp_path / "denoise-all-failed", [(samples[0][0], None), (samples[1][0], None)],
                        task="denoise", reward="ssim")
    return first, second, samples


def test_the_table_has_one_row_per_run_in_order(runner, two_runs):
    first, second, samples = two_runs
    rewards = [reward for _, reward in samples if reward is not None]
    best = max(rewards)
    lines = invoke(runner, first, second).splitlines()
    assert lines[0].split() == ["run", "searcher", "task", "trials", "failed", "best", "input", "seconds"]
    assert lines[1].split() == ["random-sr", "random", "sr", "(scale=4)", "6", "1", f"{best:.3f}", "-", "5"]
    best_choices = next(choices for choices, reward in samples if reward == best)
    assert lines[2] == summary_line(best_choices)
    assert lines[3].split() == ["denoise-all-failed", "random", "denoise", "(sigma=25.0)", "2", "2", "-", "-", "1"]
    assert len(lines[0]) == len(lines[1]) == len(lines[3])  # aligned columns
    assert lines[4] == LEGEND.format(rewards="psnr, ssim")
    assert len(lines) == 5  # no architecture line for a run without a best


def test_long_run_names_and_tasks_are_never_cut(runner, tmp_path, search_run, synthetic_samples):
    _, samples = synthetic_samples(1)
    name = "evolution-" + "x" * 40
    run = search_run(tmp_path / name, samples, task="inpaint")
    header, first = invoke(runner, run).splitlines()[:2]
    assert first.startswith(f"{name} random   inpaint (")
    assert len(first) == len(header) and header.split()[-5:] == ["best", "(dB)", "input", "(dB)", "seconds"]


def test_json_summaries_match_the_trials(runner, two_runs):
    first, second, samples = two_runs
    rows = json.loads(invoke(runner, first, second, "--json"))
    assert [row["run_dir"] for row in rows] == [str(first), str(second)]
    row = rows[0]
    rewards = [reward for _, reward in samples]
    best_index = max((i for i, r in enumerate(rewards) if r is not None), key=lambda i: rewards[i])
    assert (row["searcher"], row["space"], row["task"], row["reward"], row["reward_unit"], row["seed"]) == (
        "random", "nasdip", "sr (scale=4)", "psnr", "dB", 0)
    assert (row["trials"], row["evaluated"], row["failed"], row["duplicates"]) == (6, 6, 1, 0)
    assert (row["best_reward"], row["best_trial"], row["seconds"]) == (rewards[best_index], best_index, 5.0)
    assert row["best_arch"] == Arch("nasdip", samples[best_index][0]).to_dict()
    assert row["best_summary"][0] == summary_line(samples[best_index][0]).strip()
    assert row["fidelity"] == {"iters": 5, "crop": 32, "width": 8} and (row["rungs"], row["per_rung"]) == (1, [6])
    best_so_far, curve = None, []
    for index, reward in enumerate(rewards):
        if reward is not None and (best_so_far is None or reward > best_so_far):
            best_so_far = reward
        curve.append({"evaluations": index + 1, "best_reward": best_so_far, "seconds": float(index)})
    assert row["curve"] == curve


def test_json_of_a_run_where_everything_failed(runner, two_runs):
    _, second, _ = two_runs
    (row,) = json.loads(invoke(runner, second, "--json"))
    assert (row["task"], row["reward"], row["reward_unit"]) == ("denoise (sigma=25.0)", "ssim", "")
    assert (row["best_reward"], row["best_trial"], row["best_arch"], row["best_summary"]) == (None, None, None, [])
    assert [point["best_reward"] for point in row["curve"]] == [None, None]


def write_run(path, config, trials):
    run = RunDirectory(path)
    run.create(config)
    for trial in trials:
        run.append_trial(trial)
    return path


def record(index, choices, reward, status="ok", rung=0, duplicate_of=None, iters=5):
    arch = Arch("nasdip", dict(choices))
    return Trial(index=index, round=0, arch=arch.to_dict(), digest=arch.digest, status=status, reward=reward,
                 best_reward=None, seconds=1.0, elapsed=10.0 * (index + 1), fidelity={"iters": iters},
                 duplicate_of=duplicate_of, rung=rung)


CONFIG = {"searcher": "evolution", "space": "nasdip", "task": "sr", "task_values": {"scale": 2}, "reward": "psnr",
          "fidelity": {"iters": 20, "crop": 32, "width": 8}, "seed": 4}


def test_duplicates_count_as_trials_not_evaluations(runner, tmp_path, synthetic_samples):
    _, samples = synthetic_samples(2, seed=5)
    (a, _), (b, _) = samples
    run = write_run(tmp_path / "dup", CONFIG, [record(0, a, 21.0), record(1, a, 21.0, "duplicate", duplicate_of=0),
                                               record(2, b, 22.5)])
    (row,) = json.loads(invoke(runner, run, "--json"))
    assert (row["trials"], row["evaluated"], row["failed"], row["duplicates"]) == (3, 2, 0, 1)
    assert row["curve"] == [{"evaluations": 1, "best_reward": 21.0, "seconds": 10.0},
                            {"evaluations": 2, "best_reward": 22.5, "seconds": 30.0}]
    assert row["per_rung"] == [2] and row["best_trial"] == 2 and row["task"] == "sr (scale=2)"


def test_a_multi_fidelity_run_is_judged_at_its_top_rung(runner, tmp_path, synthetic_samples):
    _, samples = synthetic_samples(4, seed=6)
    choices = [c for c, _ in samples]
    config = {**CONFIG, "ladder": [{"iters": 5, "crop": 16, "width": 8}, {"iters": 20, "crop": 32, "width": 8}]}
    trials = [record(0, choices[0], 30.0), record(1, choices[1], 18.0), record(2, choices[2], 19.0),
              record(3, choices[1], 24.0, rung=1, iters=20), record(4, choices[3], None, "failed")]
    run = write_run(tmp_path / "ladder", config, trials)
    lines = invoke(runner, run).splitlines()
    assert lines[1].split() == ["ladder", "evolution", "sr", "(scale=2)", "5", "1", "24.000", "-", "50"]
    assert lines[2] == ("    evaluations per rung (cheapest first): 4 1; best at the top rung (the deployment "
                        "fidelity)")
    assert lines[3] == summary_line(choices[1])
    (row,) = json.loads(invoke(runner, run, "--json"))
    assert (row["rungs"], row["per_rung"], row["best_reward"], row["best_trial"]) == (2, [4, 1], 24.0, 3)
    assert [point["best_reward"] for point in row["curve"]] == [None, None, None, 24.0, 24.0]


def test_plot_writes_the_curves_and_says_so(runner, two_runs, tmp_path):
    first, second, _ = two_runs
    plot = tmp_path / "figures" / "curves.png"
    lines = invoke(runner, first, second, "--plot", plot).splitlines()
    assert lines[-1] == f"wrote {plot}" and lines[0].split()[:3] == ["run", "searcher", "task"]
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_with_json_prints_only_json(runner, two_runs, tmp_path):
    first, _, _ = two_runs
    plot = tmp_path / "curves.png"
    rows = json.loads(invoke(runner, first, "--plot", plot, "--json"))
    assert len(rows) == 1 and plot.read_bytes().startswith(b"\x89PNG")


def test_a_folder_that_is_not_a_run_is_one_line(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(cli, ["compare", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'empty'}: not a search run directory (no config.json)\n"


def test_compare_needs_a_run_directory(runner, tmp_path):
    result = runner.invoke(cli, ["compare"])
    assert result.exit_code == 2 and "Missing argument 'RUN_DIRS...'" in result.output
    (tmp_path / "notes.txt").write_text("x")
    result = runner.invoke(cli, ["compare", str(tmp_path / "notes.txt")])
    assert result.exit_code == 2 and "is a file" in result.output


def test_the_observation_baseline_is_in_the_table_and_the_json(runner, two_runs):
    from nasdip.search.baseline import Baseline

    first, second, _ = two_runs
    RunDirectory.open(first).save_baseline(Baseline("bicubic", 21.5, {"psnr": 21.5, "ssim": 0.61}))
    lines = invoke(runner, first, second).splitlines()
    assert lines[1].split()[-2:] == ["21.500", "5"] and lines[3].split()[-2:] == ["-", "1"]
    rows = json.loads(invoke(runner, first, second, "--json"))
    assert rows[0]["baseline"] == {"name": "bicubic", "reward": 21.5, "metrics": {"psnr": 21.5, "ssim": 0.61},
                                   "arch": False}
    assert rows[0]["arch_baseline"] is None
    assert rows[1]["baseline"] is None
