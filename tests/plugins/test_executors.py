"""Executors: the same search whatever the executor, crashes and timeouts isolated, resume, missing Ray."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from nasdip.cli import cli
from nasdip.errors import NasdipError
from nasdip.fit.request import FitRequest
from nasdip.search.driver import start_search
from nasdip.search.jobs import Fidelity
from nasdip.search.settings import SearchSettings

TINY = Fidelity(iters=10, crop=32, width=8)


def settings(**changes) -> SearchSettings:
    values = {"searcher": "rl", "task": "denoise", "space": "upsample-cell", "budget": 4, "batch": 2,
              "fidelity": TINY, "device": "cpu", "seed": 1}
    values.update(changes)
    return SearchSettings(**values)


def records(run):
    return sorted((json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()), key=lambda t: t["index"])


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_serial_process_and_ray_record_the_same_search(tmp_path, one_thread):
    pytest.importorskip("ray")
    runs = {
        "serial": settings(),
        "process": settings(executor="process", workers=2, executor_options={"process_threads": 1}),
        "ray": settings(executor="ray", workers=2, executor_options={"ray_cpus_per_trial": 1.0}),
    }
    found = {}
    for name, search in runs.items():
        start_search(search, tmp_path / name, None).run()
        found[name] = [(t["index"], t["digest"], t["status"], t["reward"]) for t in records(tmp_path / name)]
    assert found["process"] == found["serial"]
    assert found["ray"] == found["serial"]
    assert all(status == "ok" for _, _, status, _ in found["serial"])


HAZARD = """
    import os, time
    import nasdip
    from torch import nn
    from nasdip.search.searcher import Searcher
    from nasdip.arch.space import Decision, Space

    class Hazard(Space):
        name = "hazard"
        decisions = (Decision("kind", ("fine", "crash", "hang", "hang-too")),)

        def build(self, arch, config):
            kind = arch.choices["kind"]
            if kind == "crash":
                os._exit(13)
            if kind.startswith("hang"):
                if os.environ.get("HAZARD_MARKS"):  # say which process hangs
                    open(os.path.join(os.environ["HAZARD_MARKS"], str(os.getpid())), "w").close()
                time.sleep(600)
            return nn.Sequential(nn.Conv2d(config.input_depth, config.out_channels, 3, padding=1), nn.Sigmoid())

        def multiple(self, config):
            return 1

    class Everything(Searcher):
        name = "everything"

        def ask(self):
            self.count = getattr(self, "count", 0) + 1
            return self.space.decode([(self.count - 1) % 3])

        def tell(self, arch, reward):
            pass

    class Hangs(Everything):
        name = "hangs"

        def ask(self):
            self.count = getattr(self, "count", 0) + 1
            return self.space.decode([2 + self.count % 2])

    @nasdip.hookimpl
    def register_spaces(register):
        register(Hazard())

    @nasdip.hookimpl
    def register_searchers(register):
        register(Everything)
        register(Hangs)
"""


@pytest.fixture
def hazard_plugin(tmp_path, monkeypatch, fresh_plugin_manager):
    root = tmp_path / "site"
    root.mkdir()
    (root / "hazard_plugin.py").write_text(textwrap.dedent(HAZARD))
    info = root / "hazard_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hazard-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nasdip]\nhazard = hazard_plugin\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("NASDIP_LOAD_PLUGINS", raising=False)
    return root


def test_crash_and_timeout_fail_one_trial_each(tmp_path, hazard_plugin):
    search = settings(searcher="everything", space="hazard", budget=3, batch=3, executor="process", workers=2,
                      trial_timeout=20.0)
    summary = start_search(search, tmp_path / "run", None).run()
    trials = {t["arch"]["choices"]["kind"]: t for t in records(tmp_path / "run")}
    assert trials["fine"]["status"] == "ok"
    assert trials["crash"]["status"] == "failed" and trials["crash"]["error"] == "worker process died (exit code 13)"
    assert trials["hang"]["status"] == "failed" and trials["hang"]["error"] == "timed out after 20 s"
    assert summary.evaluated == 3 and summary.best_arch.choices["kind"] == "fine"


def nasdip_process(*args):
    return subprocess.Popen([sys.executable, "-c", "from nasdip.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_resume_after_interrupt_with_the_process_executor(tmp_path, wait_for_trials):
    # Enough candidates left after the third that the search cannot end before the signal arrives.
    args = ["search", "--searcher", "rl", "--task", "denoise", "--space", "upsample-cell", "--budget", "12",
            "--batch", "2", "--iters", "30", "--width", "8", "--crop", "32", "--device", "cpu", "--quiet",
            "--executor", "process", "--workers", "2", "--process-threads", "1"]
    whole = nasdip_process(*args, "--run-dir", str(tmp_path / "whole"))
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    victim = nasdip_process(*args, "--run-dir", str(tmp_path / "cut"))
    wait_for_trials(tmp_path / "cut" / "trials.jsonl", 3)
    victim.send_signal(signal.SIGINT)  # Ctrl-C
    _, errors = victim.communicate(timeout=60)  # reads while waiting: a full stderr pipe cannot block the search
    assert victim.returncode == 130, errors
    assert "continue with: nasdip search --resume" in errors
    resumed = nasdip_process("search", "--resume", "--run-dir", str(tmp_path / "cut"), "--quiet")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    cut, reference = records(tmp_path / "cut"), records(tmp_path / "whole")
    assert [t["index"] for t in cut] == list(range(len(reference))) and len(reference) >= 12
    assert [(t["digest"], t["reward"]) for t in cut] == [(t["digest"], t["reward"]) for t in reference]


@pytest.mark.parametrize("executor", ["process", "streams", "ray"])
def test_workers_stream_jobs_under_asynchronous_asha(tmp_path, one_thread, executor):
    # Two workers stream jobs: a promotion starts as soon as a worker is free and the rung's results justify it.
    if executor == "ray":
        pytest.importorskip("ray")
    options = {"process": {"process_threads": 1}, "ray": {"ray_cpus_per_trial": 1.0}}.get(executor, {})
    search = settings(schedule="asha-async", eta=2, budget=6, executor=executor, workers=2,
                      executor_options=options, ladder=[Fidelity(5, 32, 8), TINY])
    summary = start_search(search, tmp_path / "run", None).run()
    trials = records(tmp_path / "run")
    assert all(t["status"] in ("ok", "duplicate") for t in trials)
    assert sum(t["rung"] == 0 for t in trials) == 6 and any(t["rung"] == 1 for t in trials)
    rung0 = {t["digest"]: t["reward"] for t in trials if t["rung"] == 0}
    assert all(t["digest"] in rung0 for t in trials if t["rung"] == 1)  # only evaluated candidates go up
    assert summary.best_rung == 1 and summary.reason == "budget reached"


def test_missing_ray_is_one_line(runner, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    from nasdip.plugins.executors import RayExecutor

    with pytest.raises(NasdipError, match=r"^the ray executor needs Ray: pip install 'nasdip\[ray\]'$"):
        RayExecutor(workers=1)
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--executor", "ray",
                                 "--budget", "1", "--iters", "2", "--run-dir", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 1
    assert result.output == "Error: the ray executor needs Ray: pip install 'nasdip[ray]'\n"


def test_executor_options_belong_to_their_executor(runner, tmp_path):
    result = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise", "--ray-address", "x:1",
                                 "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "--ray-address is not an option of executor 'serial'" in result.output


def test_streams_executor_records_the_same_search(tmp_path, one_thread):
    start_search(settings(), tmp_path / "serial", None).run()
    start_search(settings(executor="streams", workers=2), tmp_path / "streams", None).run()
    serial, streams = records(tmp_path / "serial"), records(tmp_path / "streams")
    assert [(t["digest"], t["reward"]) for t in streams] == [(t["digest"], t["reward"]) for t in serial]


def test_fits_leave_the_global_random_state_alone():
    from nasdip import registry
    from nasdip.arch.catalog import presets
    from nasdip.fit.inputs import builtin_problem
    from nasdip.nn.config import NetConfig

    task = registry.get("tasks", "denoise")()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    task.fit(FitRequest(task, builtin_problem(task, 0, 32), presets()["dip-skip"], NetConfig(width=8), task.settings().replace(iters=2, device="cpu")))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("executor", ["serial", "process"])
def test_executors_report_the_fitting_progress_of_running_trials(tmp_path, one_thread, executor):
    options = {"executor": executor, "workers": 2, "executor_options": {"process_threads": 1}} if executor == "process" \
        else {}
    driver = start_search(settings(searcher="random", budget=2, **options), tmp_path / executor, None)
    heard = []
    driver.on_step = lambda trial, fraction: heard.append((trial, fraction))
    driver.run()
    assert {trial for trial, _ in heard} == {0, 1}  # a worker sends its first report at once
    assert all(0 < fraction <= 1 for _, fraction in heard)


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (an exited one may wait as a zombie for its new parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_leave_when_their_search_is_killed(tmp_path, hazard_plugin):
    marks = tmp_path / "marks"
    marks.mkdir()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hazard_plugin), *sys.path]),
                   "HAZARD_MARKS": str(marks)}
    search = subprocess.Popen(
        [sys.executable, "-c", "from nasdip.cli import main; main()", "search", "--searcher", "hangs", "--space",
         "hazard", "--task", "denoise", "--budget", "2", "--batch", "2", "--iters", "10", "--crop", "16", "--width",
         "4", "--device", "cpu", "--quiet", "--executor", "process", "--workers", "2", "--process-threads", "1",
         "--run-dir", str(tmp_path / "run")], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(workers := [int(mark.name) for mark in marks.iterdir()]) < 2 and time.time() < deadline:
        time.sleep(0.1)
    search.kill()  # kill -9: no clean-up runs in the search
    search.wait(timeout=10)
    assert len(workers) == 2, "the workers never started their trials"
    deadline = time.time() + 30
    while (alive := [pid for pid in workers if running(pid)]) and time.time() < deadline:
        time.sleep(0.1)
    for pid in alive:  # clean up before failing
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not alive, "workers outlived their search"
