"""The search driver: every searcher end to end, run-directory contents, duplicates, failures, plugins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from nasdip import hookimpl, registry
from nasdip.arch.catalog import resolve_arch
from nasdip.arch.space import Decision, Space
from nasdip.search.driver import resume_search, start_search
from nasdip.search.evaluate import evaluate
from nasdip.search.executor import Executor
from nasdip.search.jobs import Fidelity
from nasdip.search.reward import Reward
from nasdip.search.searcher import Searcher
from nasdip.search.settings import SearchSettings

TINY = Fidelity(iters=5, crop=32, width=8)


def settings(**changes) -> SearchSettings:
    values = {"searcher": "random", "task": "denoise", "space": "upsample-cell", "budget": 3, "batch": 2,
              "fidelity": TINY, "device": "cpu"}
    values.update(changes)
    return SearchSettings(**values)


@pytest.mark.parametrize(("searcher", "space"), [("random", "nasdip"), ("evolution", "upsample-cell"),
                                                 ("rl", "cross-scale"), ("darts", "upsample-cell")])
def test_each_searcher_runs_end_to_end(tmp_path, searcher, space):
    options = {"steps": 4} if searcher == "darts" else {}
    driver = start_search(settings(searcher=searcher, space=space, searcher_options=options), tmp_path / "run", None)
    summary = driver.run()
    run = tmp_path / "run"
    assert summary.evaluated == (1 if searcher == "darts" else 3)
    assert summary.reason == ("searcher finished" if searcher == "darts" else "budget reached")
    assert {"config.json", "trials.jsonl", "state.pt", "problems.pt", "best.json", "best_restoration.png"} <= {
        p.name for p in run.iterdir()}
    assert not (run / "pending.pt").exists()
    best = resolve_arch(str(run / "best.json"))
    assert best.space == space and best.meta["found_by"] == searcher and best.meta["reward"] == summary.best_reward
    lines = (run / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(summary.trials))
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 0 and config["fidelity"] == TINY.to_dict() and config["searcher"] == searcher


def test_existing_run_directory_is_not_overwritten(tmp_path):
    start_search(settings(budget=1), tmp_path / "run", None).run()
    from nasdip.errors import NasdipError

    with pytest.raises(NasdipError, match="pass --resume"):
        start_search(settings(budget=1), tmp_path / "run", None)


class Stubborn(Searcher):
    """Proposes the same architecture again and again."""

    name = "stubborn"

    def ask(self):
        return self.space.arch({"spatial": "nearest", "order": "spatial_first", "transform": "conv", "kernel": 3,
                                "activation": "relu"})

    def tell(self, arch, reward):
        pass


def test_duplicates_are_not_evaluated_again(tmp_path, register_plugin, monkeypatch):
    class Plugin:
        @hookimpl
        def register_searchers(self, register):
            register(Stubborn)

    register_plugin(Plugin(), "stubborn")
    import nasdip.search.driver as driver_module

    monkeypatch.setattr(driver_module, "MAX_CONSECUTIVE_DUPLICATES", 5)
    summary = start_search(settings(searcher="stubborn", budget=3), tmp_path / "run", None).run()
    assert summary.evaluated == 1 and summary.duplicates >= 5
    assert "converged" in summary.reason
    trials = [json.loads(line) for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]
    assert all(t["status"] == "duplicate" and t["duplicate_of"] == 0 and t["reward"] == trials[0]["reward"]
               for t in trials[1:])


class Fragile(Space):
    """A space whose networks fail to build for one choice."""

    name = "fragile"
    decisions = (Decision("kind", ("fine", "broken", "nan")),)

    def build(self, arch, config):
        kind = arch.choices["kind"]
        if kind == "broken":
            raise RuntimeError("cannot build this one")
        conv = nn.Conv2d(config.input_depth, config.out_channels, 3, padding=1)
        if kind == "nan":
            conv.bias.data.fill_(float("nan"))
        return nn.Sequential(conv, nn.Sigmoid())

    def multiple(self, config):
        return 1


def test_failing_candidates_are_recorded_and_the_search_finishes(tmp_path, register_plugin):
    class Plugin:
        @hookimpl
        def register_spaces(self, register):
            register(Fragile())

    register_plugin(Plugin(), "fragile")
    summary = start_search(settings(space="fragile", budget=3, batch=3, seed=4), tmp_path / "run", None).run()
    trials = {t["arch"]["choices"]["kind"]: t for t in
              map(json.loads, (tmp_path / "run" / "trials.jsonl").read_text().splitlines())}
    assert set(trials) == {"fine", "broken", "nan"}
    assert trials["broken"]["status"] == "failed" and "cannot build this one" in trials["broken"]["error"]
    assert trials["nan"]["status"] == "failed" and "diverged" in trials["nan"]["error"]
    assert trials["fine"]["status"] == "ok" and summary.best_arch.choices["kind"] == "fine"


def test_evaluation_never_raises():
    outcome = evaluate(evaluate.__globals__["EvalJob"](trial=7, arch={"nonsense": 1}, task="denoise", task_values={},
                                                       problems=[], config={}, settings={}, reward="psnr"))
    assert outcome.status == "failed" and outcome.trial == 7 and outcome.error


def test_resume_extends_the_budget(tmp_path):
    start_search(settings(budget=2), tmp_path / "run", None).run()
    summary = resume_search(tmp_path / "run", budget=4).run()
    assert summary.evaluated == 4
    indices = [json.loads(line)["index"] for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]
    assert indices == [0, 1, 2, 3]


@pytest.mark.parametrize("searcher", ["random", "evolution", "rl", "darts"])
def test_searcher_state_round_trip(searcher, tmp_path):
    space = registry.get("spaces", "upsample-cell")
    cls = registry.get("searchers", searcher)
    if searcher == "darts":
        first = cls(space, seed=3)
        first.derived, first.proposed = [space.sample(__import__("random").Random(0)).to_dict()], 0
    else:
        first = cls(space, seed=3)
        for _ in range(5):
            batch = first.ask_batch(2)
            for arch in batch:
                first.tell(arch, float(len(arch.key) % 7))
    torch.save(first.state_dict(), tmp_path / "state.pt")
    second = cls(space, seed=99)
    second.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert [a.key for a in first.ask_batch(3)] == [a.key for a in second.ask_batch(3)]


def test_hook_register_executors(tmp_path, register_plugin):
    order = []

    class Backwards(Executor):
        name = "backwards"

        def run(self, jobs, on_outcome):
            for job in reversed(list(jobs)):
                order.append(job.trial)
                on_outcome(evaluate(job))

    class Plugin:
        @hookimpl
        def register_executors(self, register):
            register(Backwards)

    register_plugin(Plugin(), "backwards")
    serial = start_search(settings(budget=4, batch=2), tmp_path / "serial", None).run()
    backwards = start_search(settings(budget=4, batch=2, executor="backwards"), tmp_path / "backwards", None).run()
    assert order == [1, 0, 3, 2]
    lines = {name: [json.loads(line) for line in (tmp_path / name / "trials.jsonl").read_text().splitlines()]
             for name in ("serial", "backwards")}
    assert sorted((t["index"], t["digest"], t["reward"]) for t in lines["serial"]) == \
        sorted((t["index"], t["digest"], t["reward"]) for t in lines["backwards"])
    assert serial.best_reward == backwards.best_reward


def test_hook_register_rewards(tmp_path, register_plugin):
    class Plugin:
        @hookimpl
        def register_rewards(self, register):
            register(Reward("neg-kernel", lambda c: -float(c.arch.choices["kernel"]), needs_fit=False))

    register_plugin(Plugin(), "neg-kernel")
    summary = start_search(settings(budget=12, batch=4, reward="neg-kernel"), tmp_path / "run", None).run()
    assert summary.best_reward == -1.0
    trials = [json.loads(line) for line in (tmp_path / "run" / "trials.jsonl").read_text().splitlines()]
    assert all(t["seconds"] < 1.0 and t["metrics"] == {} for t in trials)  # no fitting at all


class Recorder:
    def __init__(self):
        self.trials, self.summaries, self.progress = [], [], []

    @hookimpl
    def trial_finished(self, run, trial):
        self.trials.append((run.kind, trial.index, trial.status))

    @hookimpl
    def search_finished(self, run, summary):
        self.summaries.append(summary)

    @hookimpl
    def searcher_progress(self, run, step, scalars):
        self.progress.append((step, dict(scalars)))


@pytest.fixture
def recorder(register_plugin):
    return register_plugin(Recorder(), "search-recorder")


def test_hook_trial_finished(tmp_path, recorder):
    start_search(settings(budget=3), tmp_path / "run", None).run()
    assert recorder.trials == [("search", 0, "ok"), ("search", 1, "ok"), ("search", 2, "ok")]


def test_hook_search_finished(tmp_path, recorder):
    summary = start_search(settings(budget=2), tmp_path / "run", None).run()
    assert recorder.summaries == [summary]
    # The best candidate's restorations of both search images side by side, enlarged to be read, captioned.
    assert summary.best_output is not None and summary.best_output.shape[:2] == (1, 3)
    assert summary.best_output.shape[-2] > 160 and summary.best_output.shape[-1] >= 2 * 160


def test_hook_searcher_progress(tmp_path, recorder):
    start_search(settings(searcher="rl", budget=4, batch=2), tmp_path / "run", None).run()
    assert [step for step, _ in recorder.progress] == [1, 2]
    assert {"rl/entropy", "rl/baseline", "rl/reward_mean"} <= set(recorder.progress[0][1])


def test_tensorboard_holds_the_search_tags(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    start_search(settings(searcher="rl", budget=4, batch=2), tmp_path / "run", None).run()
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"search/psnr of each trial (dB)", "search/best psnr so far (dB)", "searcher/rl/entropy",
            "searcher/rl/baseline"} <= set(tags["scalars"])
    assert "search/best_restoration" in tags["images"]
    assert [event.step for event in events.Scalars("search/psnr of each trial (dB)")] == [0, 1, 2, 3]
    assert sorted(path.name for path in Path(tmp_path / "run" / "trials").iterdir()) == ["0000", "0001", "0002", "0003"]
