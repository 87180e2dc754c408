"""RunInfo: a child run focused on one fit, and emitted events reaching listeners (by default every plugin)."""

from __future__ import annotations

from pathlib import Path

import torch

from nasdip import hookimpl
from nasdip.plugin_manager import notify
from nasdip.runinfo import RunInfo


class Listener:
    """Records every call it gets."""

    def __init__(self):
        self.calls = []

    def __call__(self, hook_name, **arguments):
        self.calls.append((hook_name, arguments))


def test_a_child_keeps_the_run_and_replaces_tag_and_images():
    listener = Listener()
    observation, clean = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    run = RunInfo("bench", Path("/logs"), tag="bench", config={"seed": 3}, images={"old": clean},
                  listeners=listener)
    child = run.child("img/dip-skip", observation=observation, clean=clean)
    assert (child.kind, child.logdir, child.config, child.listeners) == ("bench", Path("/logs"), {"seed": 3}, listener)
    assert child.tag == "img/dip-skip"
    assert list(child.images) == ["observation", "clean"]
    assert child.images["observation"] is observation and child.images["clean"] is clean
    assert run.tag == "bench" and list(run.images) == ["old"]  # the parent is unchanged


def test_a_child_without_images_has_none():
    run = RunInfo("restore", images={"clean": torch.ones(1, 1, 2, 2)})
    assert run.child("a").images == {}


def test_emit_calls_the_listeners_with_the_run():
    listener = Listener()
    run = RunInfo("search", listeners=listener)
    run.emit("fit_progress", step=5, metrics={"loss": 0.5})
    run.emit("run_finished")
    assert listener.calls == [("fit_progress", {"run": run, "step": 5, "metrics": {"loss": 0.5}}),
                              ("run_finished", {"run": run})]
    assert listener.calls[0][1]["run"] is run


def test_a_child_emits_as_itself():
    listener = Listener()
    child = RunInfo("bench", listeners=listener).child("img/arch")
    child.emit("run_started")
    assert listener.calls[0][1]["run"] is child


def test_the_default_listeners_are_the_plugin_managers_notify():
    run = RunInfo("restore")
    assert run.listeners is notify
    assert run.logdir is None and run.tag == "" and run.config == {} and run.images == {}


def test_listeners_take_no_part_in_equality_or_repr():
    assert RunInfo("restore", tag="a", listeners=Listener()) == RunInfo("restore", tag="a")
    assert "listeners" not in repr(RunInfo("restore"))
    assert RunInfo("restore", tag="a") != RunInfo("restore", tag="b")


def test_a_registered_plugin_receives_the_emitted_hook(register_plugin):
    calls = []

    class Logger:
        @hookimpl
        def fit_progress(self, run, step, metrics):
            calls.append((run.tag, step, dict(metrics)))

        @hookimpl
        def run_finished(self, run):
            calls.append(("finished", run.kind))

    register_plugin(Logger(), "runinfo-logger")
    run = RunInfo("restore", tag="photo/dip-skip")
    run.emit("fit_progress", step=10, metrics={"loss": 0.25, "psnr": 21.0})
    run.emit("run_finished")
    assert calls == [("photo/dip-skip", 10, {"loss": 0.25, "psnr": 21.0}), ("finished", "restore")]


def test_a_plugin_gets_only_the_arguments_it_names(register_plugin):
    seen = []

    class Minimal:
        @hookimpl
        def fit_progress(self, step):
            seen.append(step)

    register_plugin(Minimal(), "runinfo-minimal")
    RunInfo("restore").emit("fit_progress", step=7, metrics={"loss": 1.0})
    assert seen == [7]


def test_a_failing_plugin_hook_is_reported_on_stderr_not_raised(register_plugin, capsys):
    reached = []

    class Broken:
        @hookimpl
        def run_started(self, run):
            raise OSError("disk full")

    class Fine:
        @hookimpl
        def run_started(self, run):
            reached.append(run.kind)

    register_plugin(Broken(), "runinfo-broken")
    register_plugin(Fine(), "runinfo-fine")
    RunInfo("bench").emit("run_started")
    assert reached == ["bench"]
    err = capsys.readouterr().err
    assert "nasdip: plugin 'runinfo-broken' failed in run_started: OSError: disk full\n" in err
    assert err.count("\n") == 1
