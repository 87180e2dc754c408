"""``nasdip search`` and ``nasdip compare`` from the command line; kill -9 and --resume."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from nasdip import hookimpl
from nasdip.cli import cli

TINY = ["--iters", "15", "--width", "8", "--crop", "32", "--device", "cpu", "--quiet"]


def nasdip(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from nasdip.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("typed", "hint"), [("rll", " (did you mean 'rl'?)"), ("xyz", "")])
def test_typo_in_searcher_is_one_line(runner, typed, hint):
    result = runner.invoke(cli, ["search", "--searcher", typed, "--task", "sr"])
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: Invalid value for '--searcher': unknown searcher {typed!r}{hint}; choose "
                                     "from: darts, evolution, random, rl (see 'nasdip search --help')")


def test_search_json_then_compare(runner, tmp_path):
    for searcher in ("random", "rl"):
        result = runner.invoke(cli, ["search", "--searcher", searcher, "--task", "sr", "--scale", "2", "--space",
                                     "upsample-cell", "--budget", "3", "--run-dir", str(tmp_path / searcher), "--json",
                                     *TINY])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["evaluated"] == 3 and summary["best_arch"]["space"] == "upsample-cell"
    result = runner.invoke(cli, ["compare", str(tmp_path / "random"), str(tmp_path / "rl"), "--plot",
                                 str(tmp_path / "curves.png"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["searcher"] for row in rows] == ["random", "rl"]
    assert all(row["trials"] == 3 and row["failed"] == 0 and len(row["curve"]) == 3 for row in rows)
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    table = runner.invoke(cli, ["compare", str(tmp_path / "random"), str(tmp_path / "rl")])
    assert "searcher" in table.output and "rl" in table.output and "cell:" in table.output


def test_resume_needs_a_run(runner, tmp_path):
    result = runner.invoke(cli, ["search", "--searcher", "rl", "--task", "sr", "--resume", "--run-dir", str(tmp_path)])
    assert result.exit_code == 1 and "not a search run directory" in result.output


def test_kill_minus_9_then_resume_gives_the_uninterrupted_trials(tmp_path, wait_for_trials):
    args = ["search", "--searcher", "rl", "--task", "denoise", "--space", "upsample-cell", "--budget", "6",
            "--batch", "2", *TINY]
    reference = nasdip(*args, "--run-dir", str(tmp_path / "whole"))
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    victim = nasdip(*args, "--run-dir", str(tmp_path / "killed"))
    wait_for_trials(tmp_path / "killed" / "trials.jsonl", 3)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert len(records(tmp_path / "killed")) < 6  # it really was interrupted

    resumed = nasdip("search", "--resume", "--run-dir", str(tmp_path / "killed"), "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    whole, killed = records(tmp_path / "whole"), records(tmp_path / "killed")
    assert [t["index"] for t in killed] == list(range(6))
    assert [(t["digest"], t["status"], t["reward"]) for t in killed] == \
        [(t["digest"], t["status"], t["reward"]) for t in whole]
    assert json.loads((tmp_path / "killed" / "best.json").read_text())["choices"] == \
        json.loads((tmp_path / "whole" / "best.json").read_text())["choices"]


def test_sigterm_stops_the_search_with_the_resume_hint(tmp_path, wait_for_trials):
    """A batch system's SIGTERM: the trial in progress is recorded, the resume command printed, exit code 143."""
    run = tmp_path / "run"
    victim = nasdip("search", "--searcher", "random", "--task", "denoise", "--space", "upsample-cell", "--budget", "50",
                    "--run-dir", str(run), *TINY)
    wait_for_trials(run / "trials.jsonl", 1)
    victim.send_signal(signal.SIGTERM)
    _, errors = victim.communicate(timeout=60)
    assert victim.returncode == 143, errors
    assert f"continue with: nasdip search --resume --run-dir {run}" in errors
    assert 1 <= len(records(run)) < 50


def degraded_folder(tmp_path, count=2, side=40):
    """Noisy crops of the built-in photo with no clean versions beside them."""
    import torch

    from nasdip.io.builtin import builtin_photo
    from nasdip.io.images import save_image

    photo = builtin_photo()[0]
    generator = torch.Generator().manual_seed(0)
    for index, (top, left) in enumerate([(150, 190), (300, 200), (420, 120)][:count]):
        crop = photo[..., top : top + side, left : left + side]
        save_image(tmp_path / "noisy" / f"n{index}.png",
                   (crop + 25 / 255 * torch.randn(crop.shape, generator=generator)).clamp(0, 1))
    return tmp_path / "noisy"


def test_observed_search_rewards_without_ground_truth(runner, tmp_path):
    folder = degraded_folder(tmp_path)
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--space", "upsample-cell",
                                 "--observed", "--images", str(folder), "--reward", "holdout", "--budget", "2",
                                 "--stop", "auto",
                                 "--stop-window", "5", "--stop-patience", "10", "--run-dir", str(tmp_path / "run"),
                                 "--json", *TINY])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["observed"] and config["reward"] == "holdout"
    assert config["stopping"] == {"stop": "auto", "stop_window": 5, "stop_patience": 10}
    for trial in records(tmp_path / "run"):
        assert trial["status"] == "ok"
        assert set(trial["metrics"]["per_image"]) == {"n0", "n1"}
        assert "psnr" not in trial["metrics"]  # no clean image anywhere
        assert trial["reward"] == trial["metrics"]["holdout_psnr"] and 10 < trial["reward"] < 40
        assert 1 <= trial["metrics"]["stop_step"] <= 15


def test_observed_search_refuses_a_reward_that_needs_clean_images(runner, tmp_path):
    folder = degraded_folder(tmp_path, count=1)
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--observed", "--images",
                                 str(folder), "--reward", "psnr", "--run-dir", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 2
    assert "reward 'psnr' needs clean images; with --observed use a no-reference reward (holdout, cross-scale, recorrupted, psd, psd-hist, lowpass)" in result.output
    assert not (tmp_path / "run").exists()
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--observed",
                                 "--run-dir", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 2 and "--observed needs --images DIR" in result.output
    assert not (tmp_path / "run").exists()


def test_a_refused_start_writes_nothing(runner, tmp_path):
    for bad in (["--searcher-option", "hidden=abc"], ["--searcher-option", "nothing=1"],
                ["--trial-timeout", "5"], ["--stop", "wmv", "--stop-window", "15"]):
        result = runner.invoke(cli, ["search", "--searcher", "rl", "--task", "sr", "--run-dir", str(tmp_path / "run"),
                                     *bad, *TINY])
        assert result.exit_code in (1, 2), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert not (tmp_path / "run").exists(), bad
    assert "searcher 'rl' option hidden: 'abc' is not a valid integer" in runner.invoke(cli, [
        "search", "--searcher", "rl", "--task", "sr", "--searcher-option", "hidden=abc", "--run-dir",
        str(tmp_path / "run"), *TINY]).output
    result = runner.invoke(cli, ["search", "--searcher", "rl", "--task", "sr", "--searcher-option", "nothing=1",
                                 "--run-dir", str(tmp_path / "run"), *TINY])
    assert "searcher 'rl' has no option nothing (its options: hidden, lr, baseline_decay" in result.output
    result = runner.invoke(cli, ["search", "--searcher", "rl", "--task", "sr", "--trial-timeout", "5",
                                 "--run-dir", str(tmp_path / "run"), *TINY])
    assert "executor 'serial' cannot stop a running trial" in result.output


def test_a_run_in_use_cannot_be_resumed_and_elapsed_carries_on(runner, tmp_path):
    from nasdip.search.rundir import RunDirectory

    run = tmp_path / "run"
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "sr", "--space", "upsample-cell",
                                 "--budget", "2", "--batch", "1", "--run-dir", str(run), *TINY])
    assert result.exit_code == 0, result.output
    holder = RunDirectory(run)
    holder.lock()
    try:
        result = runner.invoke(cli, ["search", "--resume", "--run-dir", str(run), "--budget", "3", "--quiet"])
        assert result.exit_code == 1
        assert f"the run directory is in use by process {os.getpid()} on " in result.output
        assert len(records(run)) == 2
    finally:
        holder.unlock()
    result = runner.invoke(cli, ["search", "--resume", "--run-dir", str(run), "--budget", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    elapsed = [trial["elapsed"] for trial in records(run)]
    assert len(elapsed) == 3 and elapsed == sorted(elapsed)  # the clock carries on from the recorded run


def test_resume_refuses_changed_settings(runner, tmp_path):
    run = tmp_path / "run"
    runner.invoke(cli, ["search", "--searcher", "random", "--task", "sr", "--space", "upsample-cell", "--budget", "1",
                        "--run-dir", str(run), *TINY])
    for flag, value in (("--iters", "30"), ("--seed", "3"), ("--scale", "2"), ("--searcher", "rl")):
        result = runner.invoke(cli, ["search", "--resume", "--run-dir", str(run), flag, value])
        assert result.exit_code == 2
        assert f"{flag} cannot be changed on --resume" in result.output


def test_resume_accepts_the_recorded_options_repeated(runner, tmp_path):
    """Up-arrow and --resume: the original command line with --resume (and a larger --budget) continues the run."""
    run = tmp_path / "run"
    original = ["search", "--searcher", "random", "--task", "sr", "--scale", "4", "--space", "upsample-cell",
                "--seed", "2", "--run-dir", str(run), *TINY]
    assert runner.invoke(cli, [*original, "--budget", "1"]).exit_code == 0
    result = runner.invoke(cli, [*original, "--budget", "2", "--resume"])
    assert result.exit_code == 0, result.output
    assert len(records(run)) == 2
    changed = runner.invoke(cli, [*original, "--budget", "2", "--resume", "--seed", "5"])
    assert changed.exit_code == 2
    assert "--seed cannot be changed on --resume: the run recorded 2, the command gives 5" in changed.output


def test_the_summary_prints_the_baseline_and_a_next_command_that_runs(runner, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "sr", "--scale", "4", "--space",
                                 "upsample-cell", "--budget", "1", "--run-dir", str(run), *TINY])
    assert result.exit_code == 0, result.output
    recorded = json.loads((run / "baseline.json").read_text())
    assert recorded["name"] == "bicubic" and recorded["reward"] == recorded["metrics"]["psnr"]
    assert f"; bicubic input {recorded['reward']:.3f} dB" in result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith("nasdip restore"))
    command = shlex.split(line, comments=True)
    assert command[:6] == ["nasdip", "restore", "--task", "sr", "--scale", "4"]
    restored = runner.invoke(cli, [*command[1:], "--crop", "32", "--iters", "2", "--width", "8", "--quiet",
                                   "--out", str(tmp_path / "out")])
    assert restored.exit_code == 0, restored.output
    assert f"tensorboard --logdir {tmp_path}" in result.output
    url = next(line for line in result.output.splitlines() if "then open" in line).split()[2]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query == {"runColorGroup": ["regex:^([^/]+)"], "smoothing": ["0"]}  # a colour per run directory
    assert re.match(query["runColorGroup"][0][len("regex:"):], "random-sr/trials/0003")[1] == "random-sr"


def test_a_baseline_architecture_is_fitted_once_like_a_candidate(runner, tmp_path, monkeypatch):
    from nasdip.arch.catalog import resolve_arch
    from nasdip.search import driver as driver_module
    from nasdip.search.driver import resume_search
    from nasdip.search.schedule import Job

    run = tmp_path / "run"
    args = ["search", "--searcher", "random", "--task", "denoise", "--space", "upsample-cell", "--budget", "1",
            "--baseline-arch", "dip-skip", "--run-dir", str(run), *TINY]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    recorded = json.loads((run / "baseline_arch.json").read_text())
    assert summary["arch_baseline"] == recorded and recorded["name"] == "dip-skip" and recorded["arch"] is True
    # The same fit as a candidate's at the deployment fidelity
    driver = resume_search(run)
    try:
        again = driver_module.evaluate(driver._job(-1, Job(resolve_arch("dip-skip"), driver.top)))
    finally:
        driver.run_dir.unlock()
    assert recorded["reward"] == again.reward
    # A resumed search reads it back instead of fitting it again; the summary shows it beside the best
    monkeypatch.setattr(driver_module, "evaluate", lambda *a, **k: pytest.fail("fitted the baseline again"))
    resumed = runner.invoke(cli, ["search", "--resume", "--run-dir", str(run), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert f"; dip-skip {recorded['reward']:.3f} dB" in resumed.output
    compared = runner.invoke(cli, ["compare", str(run), "--json"])
    assert json.loads(compared.output)[0]["arch_baseline"] == recorded


def test_an_unknown_baseline_architecture_is_refused_before_the_run_starts(runner, tmp_path):
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--baseline-arch", "dip-skp",
                                 "--run-dir", str(tmp_path / "run"), *TINY])
    assert result.exit_code != 0 and "dip-skp" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


class AlwaysFails:
    @hookimpl
    def register_rewards(self, register):
        from nasdip.search.reward import Reward

        def broken(context):
            raise RuntimeError("no reward today")

        register(Reward("broken", broken, "always fails"))


def test_a_search_where_every_trial_failed_exits_non_zero(runner, tmp_path, register_plugin):
    register_plugin(AlwaysFails(), "always-fails")
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "sr", "--space", "upsample-cell",
                                 "--budget", "2", "--reward", "broken", "--run-dir", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 1
    assert "Error: every candidate failed (2 evaluations); the errors are in" in result.output
    assert all("no reward today" in trial["error"] for trial in records(tmp_path / "run"))


def test_a_swallowed_ctrl_c_still_stops_the_search_after_the_trial():
    import contextlib
    import os
    import signal

    import pytest

    from nasdip.cli.search import remembered_interrupt

    before = signal.getsignal(signal.SIGINT)
    seen = []
    with remembered_interrupt(seen.append, "resume it") as on_trial:
        on_trial("first")  # no interrupt yet
        with contextlib.suppress(KeyboardInterrupt):  # as Python does when the interrupt lands in a finaliser
            os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            on_trial("second")
    assert seen == ["first", "second"]
    assert signal.getsignal(signal.SIGINT) is before


STUCK_AFTER_CTRL_C = """
import sys, threading, time
import nasdip.cli.search as search
search.INTERRUPT_GRACE = {grace}
lock = threading.Lock()
with search.remembered_interrupt(lambda trial: None, "continue with: resume") as on_trial:
    try:
        print("ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        lock.acquire()
        lock.acquire()  # the clean-up waits forever, as on a lock an interrupt left taken
"""


@pytest.mark.parametrize(("grace", "signals", "within"), [(1.0, 1, 20.0), (600.0, 2, 20.0)])
def test_a_search_stuck_after_ctrl_c_leaves_after_the_grace_or_a_second_ctrl_c(grace, signals, within):
    process = subprocess.Popen([sys.executable, "-c", STUCK_AFTER_CTRL_C.format(grace=grace)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    started = time.monotonic()
    for _ in range(signals):
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
    assert process.wait(timeout=within) == 130
    assert time.monotonic() - started < within
    assert process.stderr.read() == "interrupted; continue with: resume\n"


def test_without_a_terminal_the_search_logs_a_line_per_trial(runner, tmp_path):
    """A batch job's log: a start line, one line per trial with its reward and unit, a closing line."""
    run = tmp_path / "run"
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "sr", "--space", "upsample-cell",
                                 "--budget", "2", "--run-dir", str(run), *[a for a in TINY if a != "--quiet"]])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("nasdip: ")]
    assert lines[0].startswith("nasdip: search random on upsample-cell for sr (scale=4): reward psnr, 2 evaluations "
                               "at 15 steps, 32 px, width 8, executor serial, run directory ")
    for index, line in enumerate(lines[1:3]):
        assert re.fullmatch(rf"nasdip: trial {index} \(rung 0, 15 steps, 32 px, width 8\) ok: reward \d+\.\d{{3}} dB "
                            rf"in \d+\.\d s; best \d+\.\d{{3}} dB", line), line
    assert lines[3].startswith("nasdip: search finished (budget reached): 2 trials, 2 evaluated, 0 failed, in ")


@pytest.mark.parametrize(("ladder", "extra", "message"), [
    ("300:32:16,score:psd", ["--schedule", "halving"], "--ladder: the score rung must be the first rung"),
    ("score:nope", [], "unknown score 'nope' for the score rung; choose from psd"),
    ("score:psnr", [], "reward 'psnr' needs a fit, so it cannot score the score rung"),
    ("score:psd:0", [], "the score rung's eta must be at least 2"),
    ("score:psd,300:32:16", [], "--ladder with --schedule none takes a score rung only"),
    ("300:32:16,900:32:16", ["--schedule", "halving", "--min-iters", "300"], "--ladder gives the fitted rungs; "
                                                                             "leave out --min-iters"),
])
def test_unusable_ladders_are_one_line_errors_before_any_work(runner, tmp_path, ladder, extra, message):
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--ladder", ladder, *extra,
                                 "--run-dir", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_score_rung_prescreens_and_resumes_from_the_command_line(runner, tmp_path):
    run = tmp_path / "run"
    original = ["search", "--searcher", "random", "--task", "denoise", "--space", "upsample-cell", "--batch", "2",
                "--ladder", "score:psd:3", "--run-dir", str(run), *TINY]
    assert runner.invoke(cli, [*original, "--budget", "2"]).exit_code == 0
    assert [t["rung"] for t in records(run)] == [0] * 6 + [1] * 2  # three scored for each one fitted
    result = runner.invoke(cli, [*original, "--budget", "4", "--resume"])
    assert result.exit_code == 0, result.output
    assert [t["rung"] for t in records(run)][8:] == [0] * 6 + [1] * 2
    changed = runner.invoke(cli, [*original, "--budget", "4", "--resume", "--ladder", "score:psd:4"])
    assert changed.exit_code == 2
    assert "--ladder cannot be changed on --resume: the run recorded score:psd:3, the command gives score:psd:4" \
        in changed.output


def test_an_observed_super_resolution_search_validates_across_scales(runner, tmp_path):
    import torch

    from nasdip.io.images import save_image

    folder = tmp_path / "low"
    folder.mkdir()
    save_image(folder / "small.png", torch.rand(1, 3, 22, 21, generator=torch.Generator().manual_seed(0)))
    args = ["search", "--searcher", "random", "--task", "sr", "--scale", "2", "--observed", "--images", str(folder),
            "--budget", "1", "--iters", "10", "--width", "8", "--device", "cpu", "--quiet"]
    result = runner.invoke(cli, [*args, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    (trial,) = records(tmp_path / "run")
    assert trial["status"] == "ok" and trial["metrics"]["step_pixels"] == 10 * 22 * 20  # the 22x21 image, cropped
    assert json.loads((tmp_path / "run" / "config.json").read_text())["reward"] == "cross-scale"
    result = runner.invoke(cli, [*args, "--scale", "8", "--run-dir", str(tmp_path / "tiny")])
    assert result.exit_code != 0 and not (tmp_path / "tiny").exists()
    assert "small: the low-resolution image (cross-scale self-validation restores it from a x8 smaller copy) is 8x8; " \
        "task 'sr' needs at least 32x32 pixels" in result.output  # --crop 64: about 64 pixels restored
