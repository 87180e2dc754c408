"""A run directory under a full disk, with damaged or missing files, and after a kill before it was complete: one
line naming the file and what to do, never a traceback or a lost trial; what can be rebuilt is rebuilt."""

from __future__ import annotations

import contextlib
import errno
import json

import pytest

from nasdip.cli import cli
from nasdip.errors import NasdipError
from nasdip.search import rundir as rundir_module
from nasdip.search.driver import resume_search, start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.rundir import DiskFullError, RunDirectory
from nasdip.search.settings import SearchSettings

TINY = Fidelity(iters=4, crop=32, width=8)


def settings(**changes) -> SearchSettings:
    values = {"searcher": "rl", "task": "denoise", "space": "upsample-cell", "budget": 4, "batch": 2,
              "fidelity": TINY, "device": "cpu", "precision": "fp32"}
    return SearchSettings(**{**values, **changes})


def trials_of(path):
    return [(trial.index, trial.digest, trial.reward) for trial in RunDirectory.open(path).trials()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted search every repaired one must reproduce."""
    path = tmp_path_factory.mktemp("reference") / "run"
    start_search(settings(), path, None).run()
    return trials_of(path)


def fill_disk_after(monkeypatch, writes: int) -> None:
    """Every write into a run directory after the first ``writes`` fails as on a full disk (``ENOSPC``), inside
    the run directory's guard as a real write would."""
    real = rundir_module.RunDirectory.writing
    count = {"writes": 0}

    @contextlib.contextmanager
    def writing(self, name):
        with real(self, name):
            count["writes"] += 1
            if count["writes"] > writes:
                raise OSError(errno.ENOSPC, "No space left on device", str(self.path / name))
            yield

    monkeypatch.setattr(rundir_module.RunDirectory, "writing", writing)


def test_a_full_disk_at_the_start_leaves_no_run_and_says_start_again(tmp_path, monkeypatch):
    run = tmp_path / "run"

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(rundir_module, "atomic_write", full)
    with pytest.raises(DiskFullError, match=rf"^{run}/problems.pt: the disk is full; nothing was half-written; free "
                                            r"some space and start the search again$"):
        start_search(settings(), run, None)
    assert not (run / "config.json").exists()  # no run to refuse a fresh start, none to resume


def test_torch_save_on_a_full_disk_is_recognised(tmp_path, monkeypatch):
    """torch.save reports a full disk as a RuntimeError; the free space says what it was."""
    run = RunDirectory(tmp_path / "run")
    run.path.mkdir()

    def broken_save(value, path):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 13504 vs 13392")

    monkeypatch.setattr(rundir_module.torch, "save", broken_save)
    monkeypatch.setattr(rundir_module.shutil, "disk_usage", lambda path: type("U", (), {"free": 4096})())
    with pytest.raises(DiskFullError, match=r"state\.pt: the disk is full"):
        run.save_state({"round": 0})
    monkeypatch.setattr(rundir_module.shutil, "disk_usage", lambda path: type("U", (), {"free": 10 << 30})())
    with pytest.raises(RuntimeError, match="unexpected pos"):  # plenty of space: a real error, kept as it is
        run.save_state({"round": 0})


def test_a_disk_that_fills_during_the_search_keeps_every_trial_and_resumes(tmp_path, monkeypatch, reference,
                                                                             runner):
    run = tmp_path / "run"
    driver = start_search(settings(), run, None)
    fill_disk_after(monkeypatch, writes=8)  # a few trials' records, then nothing fits
    with pytest.raises(DiskFullError, match=r"the disk is full; nothing was half-written; every finished trial is in "
                                            r"trials.jsonl: free some space, then continue with: nasdip search "
                                            rf"--resume --run-dir {run}$"):
        driver.run()
    kept = trials_of(run)
    assert 0 < len(kept) < len(reference) and kept == reference[: len(kept)]
    monkeypatch.undo()  # space is free again
    resume_search(run).run()
    assert trials_of(run) == reference


def test_the_command_line_says_it_in_one_line_with_a_non_zero_exit(tmp_path, monkeypatch, runner):
    fill_disk_after(monkeypatch, writes=3)
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--space", "upsample-cell",
                                 "--budget", "4", "--iters", "4", "--crop", "32", "--width", "8", "--device", "cpu",
                                 "--quiet", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert "the disk is full" in line and "--resume" in line and "Traceback" not in result.output


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "config.json: not a search run configuration (a JSON object expected, got list)"),
    ('{"searcher": "rl"}', "config.json: not a search run configuration (no 'task')"),
    ('{"searcher": "rl", "task": "sr", "space": "nasdip", "reward": "psnr", "seed": "x", "fidelity": {}}',
     "config.json: 'seed' has the wrong type ('x')"),
])
def test_a_config_of_the_wrong_shape_is_named(tmp_path, runner, content, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(content)
    for command in (["search", "--resume", "--run-dir", str(run)], ["analyze", str(run)], ["compare", str(run)]):
        result = runner.invoke(cli, command)
        assert result.exit_code in (1, 2), (command, result.output)
        assert message in result.output and "Traceback" not in result.output, (command, result.output)


@pytest.mark.parametrize("damage", [b"garbage", b"PK\x03\x04 truncated"])
def test_a_damaged_searcher_state_is_named_and_the_trials_log_replays(tmp_path, reference, damage):
    run = tmp_path / "run"
    start_search(settings(budget=2), run, None).run()
    (run / "state.pt").write_bytes(damage)
    with pytest.raises(NasdipError, match=r"state.pt: damaged or not nasdip's \(.*\); delete state.pt and "
                                          r"pending.pt and --resume again: the search then replays its trials log"):
        resume_search(run, budget=4).run()
    (run / "state.pt").unlink()
    (run / "pending.pt").unlink(missing_ok=True)
    resume_search(run, budget=4).run()
    assert trials_of(run) == reference  # the replay reproduced the searcher's decisions exactly


def test_a_missing_problems_file_is_rebuilt_from_the_recorded_seed(tmp_path, reference):
    run = tmp_path / "run"
    start_search(settings(budget=2), run, None).run()
    (run / "problems.pt").unlink()  # as after a kill between config.json and problems.pt
    resume_search(run, budget=4).run()
    assert trials_of(run) == reference and (run / "problems.pt").exists()


def test_a_deleted_trials_log_is_not_silently_continued(tmp_path):
    run = tmp_path / "run"
    start_search(settings(budget=2), run, None).run()
    (run / "trials.jsonl").unlink()
    with pytest.raises(NasdipError, match=r"trials.jsonl: trials 0-1 are missing, though state.pt records 2 "
                                          r"proposals: restore the file, or start a new search"):
        resume_search(run, budget=4).run()
    assert json.loads((run / "best.json").read_text())["format"] == "nasdip-arch"  # best.json not overwritten
