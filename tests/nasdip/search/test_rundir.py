"""The search run directory: creation, the lock, the trial log (torn and corrupt lines), state files, the best."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from nasdip.arch.catalog import presets
from nasdip.arch.document import read_arch_file
from nasdip.errors import NasdipError
from nasdip.io.images import load_image
from nasdip.rng import load_python_rng_state, python_rng_state
from nasdip.search.records import Trial
from nasdip.search.rundir import LOCK_FILE, RunDirectory

CONFIG = {"searcher": "random", "task": "denoise", "space": "dip", "reward": "psnr", "seed": 0,
          "fidelity": {"iters": 5, "crop": 32, "width": 8}}


def trial(index: int, reward: float | None = 20.0) -> Trial:
    arch = presets()["dip-skip"]
    return Trial(index=index, round=index // 2, arch=arch.to_dict(), digest=arch.digest,
                 status="ok" if reward is not None else "failed", reward=reward, best_reward=reward, seconds=1.0,
                 elapsed=float(index), fidelity={"iters": 5, "crop": 16, "width": 4},
                 error=None if reward is not None else "RuntimeError: boom")


@pytest.fixture
def run(tmp_path) -> RunDirectory:
    directory = RunDirectory(tmp_path / "run")
    directory.create(CONFIG)
    return directory


# -- creation -------------------------------------------------------------------------------------


def test_create_writes_the_config_and_open_reads_it(tmp_path):
    RunDirectory(tmp_path / "a" / "run").create(CONFIG)
    opened = RunDirectory.open(tmp_path / "a" / "run")
    assert opened.config == CONFIG
    assert json.loads((tmp_path / "a" / "run" / "config.json").read_text()) == CONFIG
    assert opened.logdir == opened.path == tmp_path / "a" / "run"


def test_create_refuses_an_existing_run(run):
    with pytest.raises(NasdipError) as caught:
        RunDirectory(run.path).create({"searcher": "rl"})
    assert str(caught.value) == (f"{run.path}: a search run already exists here; pass --resume to continue it or "
                                 f"choose another --run-dir")
    assert run.config == CONFIG  # untouched


def test_create_in_an_existing_folder_without_a_run_is_fine(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    RunDirectory(tmp_path).create(CONFIG)
    assert (tmp_path / "notes.txt").read_text() == "mine" and RunDirectory.open(tmp_path).config == CONFIG


def test_open_refuses_a_folder_without_a_config(tmp_path):
    with pytest.raises(NasdipError, match=rf"^{re.escape(str(tmp_path))}: not a search run directory \(no config"
                                          rf"\.json\)$"):
        RunDirectory.open(tmp_path)


# -- the lock -------------------------------------------------------------------------------------


def test_the_lock_names_this_process(run):
    run.lock()
    try:
        text = (run.path / LOCK_FILE).read_text()
        assert re.fullmatch(rf"process {os.getpid()} on {re.escape(socket.gethostname())} since "
                            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text), text
    finally:
        run.unlock()


def test_a_second_lock_in_the_same_process_is_one_line_naming_the_holder(run):
    run.lock()
    try:
        with pytest.raises(NasdipError) as caught:
            RunDirectory(run.path).lock()
        message = str(caught.value)
        assert message.startswith(f"{run.path}: the run directory is in use by process {os.getpid()} on {socket.gethostname()} "
                                  f"since ")
        assert message.endswith("; wait for it to finish, stop it, or choose another --run-dir")
        assert "\n" not in message
    finally:
        run.unlock()


def test_unlock_releases_the_lock(run):
    run.lock()
    run.unlock()
    other = RunDirectory(run.path)
    other.lock()
    other.unlock()
    run.unlock()  # unlocking twice is harmless


def test_the_lock_creates_the_folder(tmp_path):
    directory = RunDirectory(tmp_path / "new" / "run")
    directory.lock()
    try:
        assert (tmp_path / "new" / "run" / LOCK_FILE).is_file()
    finally:
        directory.unlock()


HOLDER = textwrap.dedent("""
    import sys
    from nasdip.search.rundir import RunDirectory
    run = RunDirectory(sys.argv[1])
    run.lock()
    print("locked", flush=True)
    sys.stdin.read()
""")

SILENT_HOLDER = textwrap.dedent("""
    import fcntl, sys
    stream = open(sys.argv[1], "a+")
    fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    sys.stdin.read()
""")


def hold(script: str, path) -> subprocess.Popen:
    """A subprocess holding the lock until its stdin closes."""
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0


def test_a_lock_held_by_another_process_is_one_line_naming_it(run):
    holder = hold(HOLDER, run.path)
    try:
        with pytest.raises(NasdipError) as caught:
            run.lock()
        assert f": the run directory is in use by process {holder.pid} on {socket.gethostname()} since " in str(caught.value)
        assert "\n" not in str(caught.value)
    finally:
        release(holder)
    run.lock()  # free again once the holder exits
    run.unlock()


def test_a_holder_that_wrote_nothing_is_another_process(run):
    holder = hold(SILENT_HOLDER, run.path / LOCK_FILE)
    try:
        with pytest.raises(NasdipError, match=r": the run directory is in use by another process; wait for it to finish"):
            run.lock()
    finally:
        release(holder)


# -- trials ---------------------------------------------------------------------------------------


def test_no_trial_log_is_no_trials(run):
    assert run.trials() == []


def test_appended_trials_come_back_in_index_order(run):
    for index in (2, 0, 1):
        run.append_trial(trial(index, reward=None if index == 1 else 20.0 + index))
    trials = run.trials()
    assert [t.index for t in trials] == [0, 1, 2]
    assert [t.to_dict() for t in trials] == [trial(0, 20.0).to_dict(), trial(1, None).to_dict(),
                                             trial(2, 22.0).to_dict()]
    lines = (run.path / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [2, 0, 1]  # appended as they finished


def test_a_torn_last_line_is_dropped(run):
    run.append_trial(trial(0))
    run.append_trial(trial(1))
    with open(run.path / "trials.jsonl", "a") as stream:
        stream.write(json.dumps(trial(2).to_dict())[:40])  # a kill mid-write
    assert [t.index for t in run.trials()] == [0, 1]


def test_a_torn_last_line_that_parses_is_dropped_too(run):
    run.append_trial(trial(0))
    with open(run.path / "trials.jsonl", "a") as stream:
        stream.write("12")  # valid JSON, not a trial
    assert [t.index for t in run.trials()] == [0]


@pytest.mark.parametrize("bad", ['{"index": 1, "round"', "", '{"index": 1}'])
def test_a_corrupt_middle_line_is_named(run, bad):
    lines = [json.dumps(trial(0).to_dict()), bad, json.dumps(trial(2).to_dict())]
    (run.path / "trials.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(NasdipError) as caught:
        run.trials()
    assert str(caught.value) == f"{run.path / 'trials.jsonl'}: line 2 is corrupt"


def test_repair_keeps_exactly_the_given_trials(run):
    run.append_trial(trial(0))
    run.append_trial(trial(1))
    with open(run.path / "trials.jsonl", "a") as stream:
        stream.write('{"index": 2, "rou')
    kept = run.trials()
    run.repair_trials(kept)
    run.append_trial(trial(2, 25.0))  # appending after a repair leaves no corrupt line behind
    assert [t.to_dict() for t in run.trials()] == [trial(0).to_dict(), trial(1).to_dict(), trial(2, 25.0).to_dict()]
    run.repair_trials([])
    assert (run.path / "trials.jsonl").read_text() == "" and run.trials() == []


# -- state ----------------------------------------------------------------------------------------


def test_missing_state_files_load_as_none(run):
    assert run.load_state() is None and run.load_pending() is None and run.load_problems() is None
    run.clear_pending()  # nothing to clear is fine


def test_state_round_trips_with_tensors_and_an_rng(run):
    rng = random.Random(7)
    rng.random()
    state = {"round": 3, "searcher": {"rng": python_rng_state(rng), "logits": torch.arange(6.0).reshape(2, 3)},
             "schedule": {"next": [1, 2], "name": "asha"}}
    run.save_state(state)
    loaded = run.load_state()
    assert loaded["round"] == 3 and loaded["schedule"] == {"next": [1, 2], "name": "asha"}
    assert torch.equal(loaded["searcher"]["logits"], torch.arange(6.0).reshape(2, 3))
    restored = random.Random(0)
    load_python_rng_state(restored, loaded["searcher"]["rng"])
    assert restored.random() == rng.random()
    run.save_state({"round": 4})  # replaced, not merged
    assert run.load_state() == {"round": 4}
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "state.pt"]  # no temporary left


def test_pending_round_trips_and_clears(run):
    pending = {"round": 1, "proposals": [presets()["dip-skip"].to_dict()], "rungs": [0]}
    run.save_pending(pending)
    assert run.load_pending() == pending
    run.clear_pending()
    assert run.load_pending() is None and not (run.path / "pending.pt").exists()


def test_problems_round_trip(run):
    observation = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    run.save_problems({"16": [{"observation": observation, "name": "a"}]})
    (problem,) = run.load_problems()["16"]
    assert problem["name"] == "a" and torch.equal(problem["observation"], observation)


# -- results --------------------------------------------------------------------------------------


def test_save_best_writes_the_architecture_and_its_restoration(run):
    arch = presets()["dip-skip"].replace(meta={"found_by": "random", "reward": 21.5})
    output = torch.linspace(0, 1, 3 * 8 * 12).reshape(1, 3, 8, 12)
    run.save_best(arch, output)
    saved = read_arch_file(run.path / "best.json")
    assert saved == arch and saved.meta == {"found_by": "random", "reward": 21.5}
    image, _ = load_image(run.path / "best_restoration.png")
    assert image.shape == (1, 3, 8, 12)
    assert (image - output).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit quantisation only


def test_save_best_without_an_output_writes_only_the_architecture(run):
    run.save_best(presets()["nasdip-sr"], None)
    assert read_arch_file(run.path / "best.json") == presets()["nasdip-sr"]
    assert not (run.path / "best_restoration.png").exists()
