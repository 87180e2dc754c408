"""The TensorBoard logger, read back with TensorBoard's own event reader and its HParams dashboard backend."""

from __future__ import annotations

import json
import random
import re
from types import SimpleNamespace

import pytest
import torch
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

from nasdip import registry
from nasdip.arch.build import network_cost
from nasdip.cli import cli
from nasdip.nn.config import NetConfig
from nasdip.plugins import tensorboard as logger
from nasdip.runinfo import RunInfo
from nasdip.search.baseline import Baseline
from nasdip.search.jobs import EvalOutcome
from nasdip.search.records import Trial


def read(directory):
    accumulator = EventAccumulator(str(directory), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def text(accumulator, tag):
    """Every (step, text) of a text summary (``SummaryWriter.add_text`` suffixes its tags ``/text_summary``)."""
    events = accumulator.Tensors(f"{tag}/text_summary")
    return [(event.step, event.tensor_proto.string_val[0].decode()) for event in events]


def dashboard(logdir):
    """What TensorBoard's HParams dashboard receives for ``logdir``: the experiment (columns) and the rows."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), data_provider=provider,
                                                            multiplexer=multiplexer))
    request_context = context.RequestContext()
    experiment = get_experiment.Handler(request_context, backend, "",
                                        api_pb2.GetExperimentRequest(hparams_limit=1000)).run()
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=1000,
                                               aggregation_type=api_pb2.AGGREGATION_AVG,
                                               allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS,
                                                                 api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING])
    for info in experiment.hparam_infos:
        request.col_params.add(hparam=info.name)
    for info in experiment.metric_infos:
        request.col_params.add(metric=info.name)
    groups = list_session_groups.Handler(request_context, backend, "", request).run().session_groups
    rows = {group.name: {"hparams": {key: value.string_value for key, value in group.hparams.items()},
                         "metrics": {metric.name.tag: metric.value for metric in group.metric_values},
                         "status": group.sessions[0].status} for group in groups}
    return experiment, rows


def shown_by_default(experiment):
    """The hparam columns the dashboard ticks on first load: the first five, those marked ``differs`` first."""
    return [info.name for info in sorted(experiment.hparam_infos, key=lambda info: not info.differs)][:5]


# -- restorations -----------------------------------------------------------------------------------------


def test_restore_logdir_holds_curves_and_images(runner, tmp_path):
    logdir = tmp_path / "tb"
    result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "32", "--iters", "20", "--width", "8",
                                 "--quiet", "--out", str(tmp_path / "out"), "--logdir", str(logdir)])
    assert result.exit_code == 0, result.output
    tags = read(logdir / "grace_hopper" / "nasdip-denoise").Tags()
    assert {"fit/loss", "fit/psnr", "final/psnr", "final/ssim", "final/psnr_max"} <= set(tags["scalars"])
    assert {"images/restored", "images/observation", "images/clean"} <= set(tags["images"])
    [(_, config)] = text(read(logdir), "config")
    assert "| task | denoise |" in config and "| task_options.sigma | 25.0 |" in config and "| iters | 20 |" in config


def test_bench_writes_one_run_per_fit(runner, tmp_path):
    from nasdip.io.builtin import builtin_photo
    from nasdip.io.crops import center_crop
    from nasdip.io.images import save_image

    save_image(tmp_path / "imgs" / "x.png", center_crop(builtin_photo()[0], 32, 32))
    logdir = tmp_path / "tb"
    result = runner.invoke(cli, ["bench", "--task", "denoise", "--images", str(tmp_path / "imgs"), "--iters", "10",
                                 "--width", "8", "--quiet", "--logdir", str(logdir)])
    assert result.exit_code == 0, result.output
    for arch in ("dip-skip", "nasdip-denoise"):
        assert "fit/loss" in read(logdir / "x" / arch).Tags()["scalars"]


def test_fit_progress_logs_every_delivered_number_at_its_step(tmp_path):
    run = RunInfo("restore", tmp_path, tag="img/arch")
    for step in (5, 10, 15):
        logger.fit_progress(run, step, {"loss": 1.0 / step, "psnr": 20.0 + step, "lr": 0.01})
    logger.run_finished(run)
    events = read(tmp_path / "img" / "arch")
    assert [(e.step, round(e.value, 4)) for e in events.Scalars("fit/psnr")] == [(5, 25.0), (10, 30.0), (15, 35.0)]
    assert [e.step for e in events.Scalars("fit/lr")] == [5, 10, 15]


# -- searches: hook level, with made-up trials ------------------------------------------------------------

CONFIG = {"searcher": "random", "task": "denoise", "task_values": {}, "space": "upsample-cell", "reward": "psnr",
          "seed": 3, "budget": 4, "fidelity": {"iters": 5, "crop": 32, "width": 8}, "lr": None, "batch": 4,
          "schedule": "halving", "ladder": [{"iters": 5, "crop": 32, "width": 8}, {"iters": 15, "crop": 32, "width": 8}]}


def made_up_trials():
    space = registry.get("spaces", "upsample-cell")
    rng = random.Random(1)
    first, second, third = (space.sample(rng).to_dict() for _ in range(3))

    def trial(index, arch, status, reward, best, elapsed, **fields):
        from nasdip.arch.document import Arch

        return Trial(index=index, round=0, arch=arch, digest=Arch.from_dict(arch).digest, status=status,
                     reward=reward, best_reward=best, seconds=2.0, elapsed=elapsed, fidelity=dict(CONFIG["fidelity"]),
                     **fields)

    trials = [
        trial(0, first, "ok", 20.0, 20.0, 10.0, metrics={"psnr": 20.0, "ssim": 0.5, "psnr_max": 20.5, "stop_step": 40,
                                                          "per_image": {"a": {"psnr": 20.0}}, "converged": True}),
        trial(1, second, "failed", None, 20.0, 13.5, error="RuntimeError: out of memory"),
        trial(2, first, "duplicate", 20.0, 20.0, 13.5, duplicate_of=0),
        trial(3, third, "ok", 21.5, 21.5, 21.25, metrics={"psnr": 21.5, "ssim": 0.6, "psnr_max": 21.5, "stop_step": 5}),
    ]
    for trial_ in trials:
        trial_.rung = 0 if trial_.index < 3 else 1  # multi-fidelity trials carry a rung
    return trials


def log_search(logdir, trials, single_fidelity: bool = False):
    config = dict(CONFIG)
    if single_fidelity:
        del config["ladder"], config["schedule"]
    run = RunInfo("search", logdir, tag="search", config=config)
    logger.run_started(run)
    for trial in trials:
        logger.trial_finished(run, trial, evaluation(trial))
    return run


def evaluation(trial):
    """What an evaluation of ``trial`` returned: two restorations (grey, by trial) and loss and PSNR curves."""
    if trial.status == "duplicate":
        return None
    curves = {"loss": [(1, 0.5), (5, 0.25)], "psnr": [(1, 10.0 + trial.index), (5, 20.0 + trial.index)]}
    outputs = [torch.full((1, 3, 16, 16), trial.index / 10), torch.full((1, 3, 16, 16), trial.index / 10)]
    return EvalOutcome(trial.index, trial.status, trial.reward, outputs=outputs if trial.status == "ok" else [],
                       curves=curves if trial.status == "ok" else {})


def test_one_hparams_row_per_evaluated_trial_with_every_decision(tmp_path):
    trials = made_up_trials()
    logger.run_finished(log_search(tmp_path / "rs", trials))
    experiment, rows = dashboard(tmp_path)
    assert sorted(rows) == ["rs/trials/0000", "rs/trials/0001", "rs/trials/0003"]  # no row for the duplicate
    decisions = registry.get("spaces", "upsample-cell").decisions
    numbered = [f"{i + 1:02d} {d.name}" for i, d in enumerate(decisions)]
    columns = {info.name: info for info in experiment.hparam_infos}
    # The space's decisions in its order, then which search and how hard; constants (seed, task, space) are not
    # columns: they are in the config text.
    assert set(columns) == {*numbered, "search", "searcher", "rung", "fidelity_iters", "fidelity_crop",
                            "fidelity_width", "stop_step"}
    for name, decision in zip(numbered, decisions, strict=True):
        assert [v.string_value for v in columns[name].domain_discrete.values] == [str(c) for c in decision.choices]
    assert shown_by_default(experiment) == numbered[:5]
    assert numbered[:5] == ["01 spatial", "02 order", "03 transform", "04 kernel", "05 activation"]
    for trial in trials[:2] + trials[3:]:
        row = rows[f"rs/trials/{trial.index:04d}"]["hparams"]
        expected = {"search": "rs", "searcher": "random", "rung": str(trial.rung), "fidelity_iters": "5",
                    "fidelity_crop": "32", "fidelity_width": "8",
                    **{f"{i + 1:02d} {name}": str(choice) for i, (name, choice) in
                       enumerate(trial.arch["choices"].items())}}
        if trial.status == "ok":
            expected["stop_step"] = str(trial.metrics["stop_step"])
        assert row == expected
        for name in ("rung", "fidelity_iters", "04 kernel", *(("stop_step",) if trial.status == "ok" else ())):
            assert re.fullmatch(r"\d+", row[name]), (name, row[name])  # integers as integers, not "5.0000"


def test_hparams_of_a_single_fidelity_search_leave_out_the_fidelity(tmp_path):
    logger.run_finished(log_search(tmp_path / "rs", made_up_trials(), single_fidelity=True))
    experiment, _ = dashboard(tmp_path)
    assert not {"rung", "fidelity_iters"} & {info.name for info in experiment.hparam_infos}


def test_hparams_metrics_are_the_trial_results_and_the_network_cost(tmp_path):
    trials = made_up_trials()
    logger.run_finished(log_search(tmp_path / "rs", trials))
    experiment, rows = dashboard(tmp_path)
    titles = {info.name.tag: info.display_name for info in experiment.metric_infos}
    # One reward column (psnr is the reward here), the oracle labelled, counts as hparams (integers).
    assert titles == {"trial/reward": "reward: psnr (dB)", "trial/ssim": "ssim",
                      "trial/psnr_max": "psnr_max: oracle, best PSNR over all steps (dB)",
                      "trial/seconds": "seconds (s)", "trial/parameters_k": "parameters (thousands)",
                      "trial/gflop_per_step": "GFLOP per fitting step (32x32)"}
    best = rows["rs/trials/0003"]
    assert best["status"] == api_pb2.STATUS_SUCCESS
    cost = network_cost(trials[3].architecture, NetConfig(width=8), (32, 32))
    assert best["metrics"] == pytest.approx({"trial/reward": 21.5, "trial/ssim": 0.6,
                                             "trial/psnr_max": 21.5, "trial/seconds": 2.0,
                                             "trial/parameters_k": cost.params / 1e3,
                                             "trial/gflop_per_step": cost.step_flops / 1e9}, rel=1e-6)
    failed = rows["rs/trials/0001"]  # its network is not built again (a failed build may crash the process)
    assert failed["status"] == api_pb2.STATUS_FAILURE and set(failed["metrics"]) == {"trial/seconds"}


def test_top_rung_candidates_bring_their_learning_curves_and_a_gallery(tmp_path):
    trials = made_up_trials()  # trial 3 is the only one at the top rung of the two-rung ladder
    run = log_search(tmp_path / "rs", trials)
    baseline = Baseline("noisy", 20.5, {"psnr": 20.5})
    logger.search_finished(run, SimpleNamespace(best_output=None, trials=4, run_dir=tmp_path / "not-a-run",
                                                baseline=baseline, arch_baseline=None))
    logger.run_finished(run)
    # The observation's own score: a flat line in the best-so-far chart, in a run named after it
    line = read(tmp_path / "rs" / "baseline-noisy-input").Scalars("search/best psnr so far (dB) at the top rung")
    assert [(e.step, e.value) for e in line] == [(0, 20.5), (3, 20.5)]
    curves = read(tmp_path / "rs" / "trials" / "0003")
    assert [(e.step, e.value) for e in curves.Scalars("candidate/psnr (dB)")] == [(1, 13.0), (5, 23.0)]
    assert [(e.step, e.value) for e in curves.Scalars("candidate/loss")] == [(1, 0.5), (5, 0.25)]
    assert "candidate/loss" not in read(tmp_path / "rs" / "trials" / "0000").Tags()["scalars"]  # rung 0
    [image] = read(tmp_path / "rs").Images("search/top_candidates")
    assert image.step == 4 and image.width >= 2 * 96  # one row: the top candidate's two restorations, captioned


def test_top_candidates_are_the_best_rewards_one_row_each():
    outputs = [torch.zeros(1, 3, 8, 8)]
    image = logger.top_candidates_image([(21.5, 3, outputs), (20.0, 0, outputs)], "dB")
    single = logger.top_candidates_image([(21.5, 3, outputs)], "dB")
    assert image.shape[-2] == 2 * single.shape[-2] and image.shape[-1] == single.shape[-1]
    search = logger._SearchLog()
    for reward, index in [(1.0, 0), (3.0, 1), (2.0, 2), (5.0, 3), (4.0, 4), (0.5, 5)]:
        logger._keep_top(search, SimpleNamespace(reward=reward, index=index), outputs)
    assert [index for _, index, _ in search.top] == [3, 4, 1, 2]  # the four best, best first


def test_search_scalars_carry_the_reward_unit_and_the_search_seconds(tmp_path):
    trials = made_up_trials()
    logger.run_finished(log_search(tmp_path / "rs", trials, single_fidelity=True))
    events = read(tmp_path / "rs")
    each, best = events.Scalars("search/psnr of each trial (dB)"), events.Scalars("search/best psnr so far (dB)")
    assert [(e.step, e.value) for e in each] == [(0, 20.0), (2, 20.0), (3, 21.5)]
    assert [(e.step, e.value) for e in best] == [(0, 20.0), (1, 20.0), (2, 20.0), (3, 21.5)]
    # TensorBoard's "Relative" horizontal axis shows the search's own seconds (trial.elapsed), not the step
    assert [round(e.wall_time - best[0].wall_time, 3) for e in best] == [0.0, 3.5, 3.5, 11.25]
    assert [e.step for e in events.Scalars("search/failed")] == [1]
    texts = text(events, "search/best_architecture")
    assert [step for step, _ in texts] == [0, 3]
    assert "**trial 3**: psnr 21.5000 dB (space upsample-cell" in texts[1][1] and "cell: " in texts[1][1]
    [(_, config)] = text(events, "config")
    assert "| task (all options) | denoise (sigma=25.0) |" in config
    assert "| fit per candidate.iters | 5 |" in config and "| fidelity.crop | 32 |" in config
    # Effective values only: nothing unset, and what "auto" became on this machine
    assert "| lr |" not in config and "None" not in config and "{}" not in config
    assert re.search(r"\| fit per candidate\.device \| auto \((cpu|cuda)\) \|", config), config
    assert re.search(r"\| fit per candidate\.precision \| auto \((fp32|bf16)\) \|", config), config


# -- searches: end to end -------------------------------------------------------------------------------


def test_two_searches_side_by_side_in_one_dashboard(tmp_path):
    from nasdip.search.driver import start_search
    from nasdip.search.jobs import Fidelity
    from nasdip.search.settings import SearchSettings

    for searcher in ("random", "evolution"):
        settings = SearchSettings(searcher=searcher, task="denoise", space="upsample-cell", budget=4, batch=4,
                                  fidelity=Fidelity(iters=5, crop=32, width=8), device="cpu")
        start_search(settings, tmp_path / "runs" / f"{searcher}-denoise", None).run()
    _, rows = dashboard(tmp_path / "runs")
    recorded = {}
    for searcher in ("random", "evolution"):
        for line in (tmp_path / "runs" / f"{searcher}-denoise" / "trials.jsonl").read_text().splitlines():
            trial = json.loads(line)
            if trial["status"] != "duplicate":
                recorded[f"{searcher}-denoise/trials/{trial['index']:04d}"] = (searcher, trial)
    assert sorted(rows) == sorted(recorded)  # run names are the run directories, no "/tb"
    for name, (searcher, trial) in recorded.items():
        assert rows[name]["hparams"]["searcher"] == searcher
        assert rows[name]["hparams"]["01 spatial"] == trial["arch"]["choices"]["spatial"]
        assert rows[name]["metrics"]["trial/reward"] == pytest.approx(trial["reward"], rel=1e-6)
    events = read(tmp_path / "runs" / "random-denoise")
    assert "analysis/decisions" in events.Tags()["images"]
    [(step, table)] = text(events, "analysis/decisions")
    assert step == 4 and "| decision | importance | choice | mean psnr (dB) |" in table
