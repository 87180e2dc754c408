"""Decision analysis: known effects come out on top, statistics match independent computations, figures labelled."""

from __future__ import annotations

import json

import pytest

from nasdip import registry
from nasdip.arch.space import Decision
from nasdip.errors import NasdipError
from nasdip.report.analyze import (
    analysis_figure,
    analysis_lines,
    analysis_markdown,
    analyze_runs,
    decision_effects,
    t_quantile_975,
)


def test_the_decisions_that_matter_come_out_on_top(synthetic_samples):
    space, samples = synthetic_samples(150)
    effects = decision_effects(space.decisions, samples)
    assert effects[0].name == "spatial"  # the largest effect explains the most variance
    assert {effect.name for effect in effects[1:3]} == {"add3_e2", "activation"}
    assert all(effect.importance > 0.1 for effect in effects[:3])
    # over 20 seeds the irrelevant decisions never exceeded 0.07
    assert all(effect.importance < 0.1 for effect in effects[3:] if effect.importance is not None)
    spatial = {choice.choice: choice for choice in effects[0].choices}
    others = [choice for name, choice in spatial.items() if name != "bicubic"]
    for choice in others:  # bicubic is 2 dB better than every other choice, within the intervals
        gap = spatial["bicubic"].mean - choice.mean
        half = (spatial["bicubic"].ci_high - spatial["bicubic"].ci_low + choice.ci_high - choice.ci_low) / 2
        assert abs(gap - 2.0) < half


def test_statistics_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    decision = Decision("size", (1, 3, 5))
    rewards = {1: [10.0, 11.0, 12.5, 9.0], 3: [14.0, 13.0, 15.5], 5: [12.0]}
    samples = [({"size": choice}, value) for choice, values in rewards.items() for value in values]
    samples.append(({"size": 5}, None))  # a failed trial counts as a failure, not a reward
    [effect] = decision_effects([decision], samples)
    for choice in effect.choices:
        values = rewards[choice.choice]
        assert choice.n == len(values) and choice.mean == pytest.approx(sum(values) / len(values))
        if len(values) > 1:
            low, high = stats.t.interval(0.95, len(values) - 1, loc=choice.mean, scale=stats.sem(values))
            assert (choice.ci_low, choice.ci_high) == pytest.approx((low, high), abs=2e-3)
        else:
            assert choice.ci_low is None and choice.ci_high is None
    assert [choice.failed for choice in effect.choices] == [0, 0, 1]
    f_value = stats.f_oneway(*rewards.values()).statistic
    total = sum(map(len, rewards.values()))
    groups = len(rewards)
    epsilon = (groups - 1) * (f_value - 1) / ((groups - 1) * f_value + total - groups)
    eta = (groups - 1) * f_value / ((groups - 1) * f_value + total - groups)
    assert effect.importance == pytest.approx(epsilon) and effect.eta_squared == pytest.approx(eta)
    assert effect.spread == pytest.approx(14.1666667 - 10.625)


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (*range(1, 40), 50, 100, 1000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1.5e-3)


def test_a_decision_that_never_varied_has_no_importance_and_comes_last():
    decisions = [Decision("fixed", ("a", "b")), Decision("varied", (0, 1))]
    samples = [({"fixed": "a", "varied": v}, 10.0 + v + 0.1 * i) for i, v in enumerate((0, 1, 0, 1, 0, 1))]
    fixed, = (e for e in decision_effects(decisions, samples) if e.name == "fixed")
    assert fixed.importance is None and decision_effects(decisions, samples)[-1].name == "fixed"


# -- run directories ------------------------------------------------------------------------------


def test_runs_are_pooled_and_one_fidelity_is_analysed(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(60)
    search_run(tmp_path / "a", samples[:40])
    search_run(tmp_path / "b", samples[40:], task_values={"scale": 4})  # the same task: 4 is sr's default scale
    search_run(tmp_path / "c", samples[:5], fidelity={"iters": 50, "crop": 32, "width": 8})
    analysis = analyze_runs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])
    assert analysis.evaluated == 60 and analysis.left_out == 5 and analysis.failed == 0
    assert analysis.task == "sr (scale=4)" and analysis.unit == "dB"
    assert analysis.setting == {"rung": 0, "fidelity_iters": 5, "fidelity_crop": 32, "fidelity_width": 8}
    assert analysis.decisions[0].name == "spatial"
    lines = analysis_lines(analysis)
    assert lines[0] == ("space nasdip, task sr (scale=4), reward psnr (dB): 60 evaluated trials (rung=0, iters=5, "
                        "crop=32, width=8); 5 trials at other fidelities left out")
    assert lines[3].split()[:3] == ["spatial", f"{analysis.decisions[0].importance:.2f}", "bilinear"]
    assert "| decision | importance | choice | mean psnr (dB) | 95% CI | n | failed |" in analysis_markdown(analysis)


def test_a_score_rung_is_analysed_under_its_score(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(30)
    search_run(tmp_path / "a", samples, fidelity={"iters": 0, "crop": 32, "width": 8, "score": "psd"})
    analysis = analyze_runs([tmp_path / "a"])
    assert analysis.reward == "psd"  # the trials' rewards are the score's, with the score's unit
    assert analysis.unit == registry.get("rewards", "psd").unit


def test_runs_of_different_tasks_are_refused(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(6)
    search_run(tmp_path / "a", samples)
    search_run(tmp_path / "b", samples, task="denoise")
    with pytest.raises(NasdipError) as error:
        analyze_runs([tmp_path / "a", tmp_path / "b"])
    assert str(error.value) == (f"the runs differ in task ({tmp_path / 'a'}: sr (scale=4); {tmp_path / 'b'}: "
                                f"denoise (sigma=25.0)); analyse runs of one space, task and reward together")


def test_too_few_trials_are_refused(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(3)
    search_run(tmp_path / "a", [samples[0], samples[1], (samples[2][0], None)])
    with pytest.raises(NasdipError, match=r"2 evaluated trials at one fidelity; the decision analysis needs at least 3"):
        analyze_runs([tmp_path / "a"])


def test_figure_has_labelled_importances_and_choices(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(60)
    analysis = analyze_runs([search_run(tmp_path / "a", samples)])
    figure = analysis_figure(analysis)
    bars, *panels = figure.axes
    assert bars.get_xlabel() == "share of reward variance explained (epsilon squared)"
    ranked = [effect for effect in analysis.decisions if effect.importance is not None]
    assert [label.get_text() for label in bars.get_yticklabels()] == [effect.name for effect in ranked][::-1]
    assert len(panels) == 6
    spatial = panels[0]
    assert spatial.get_title() == (f"spatial (importance {analysis.decisions[0].importance:.2f})\n"
                                   f"x2 spatial step of every upsampler")  # what the decision means
    assert spatial.get_ylabel() == "mean psnr (dB)"
    counts = {choice.choice: choice.n for choice in analysis.decisions[0].choices if choice.n}
    assert [label.get_text() for label in spatial.get_xticklabels()] == [f"{c} (n={n})" for c, n in counts.items()]
    assert "task sr (scale=4), reward psnr (dB): 60 evaluated trials" in figure.get_suptitle()


def test_too_few_trials_and_pooled_searchers_are_warned_about(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(6)
    first = search_run(tmp_path / "random", samples[:3])
    second = search_run(tmp_path / "rl", samples[3:])
    config = json.loads((second / "config.json").read_text())
    (second / "config.json").write_text(json.dumps({**config, "searcher": "rl"}))
    analysis = analyze_runs([first, second])
    assert analysis.searchers == ["random", "rl"]
    assert analysis.warnings[0] == ("pooled the trials of different searchers (random, rl): they sample choices "
                                    "differently, so the marginals mix their preferences")
    assert analysis.warnings[1].startswith("6 evaluated trials for ")
    assert "too few to tell their effects apart" in analysis.warnings[1]
    lines = analysis_lines(analysis)
    assert lines[1] == f"warning: {analysis.warnings[0]}" and lines[2] == f"warning: {analysis.warnings[1]}"
    assert analysis.meanings["add4_e3"] == "add e3's features to decoder level add4"


def test_enough_trials_give_no_warning(tmp_path, synthetic_samples, search_run):
    _, samples = synthetic_samples(200)
    analysis = analyze_runs([search_run(tmp_path / "a", samples)])
    assert analysis.warnings == [] and analysis.searchers == ["random"]
