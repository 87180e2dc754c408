"""What a search learned about its decisions: the reward by choice and how much of the reward each decision explains.

For every decision of the space the evaluated trials are grouped by their choice: each choice gets the mean
reward, a 95% confidence interval (Student's t) and the number of trials (and failures). A decision's
*importance* is the share of the reward's variance that its choice explains (a one-way analysis of variance, the
main effect that fANOVA calls a marginal), reported as epsilon squared, ``(SS_between - (k - 1) MS_within) /
SS_total`` clipped at 0: unlike the raw ratio (eta squared, also reported) it does not credit a decision with many
choices for fitting noise. Marginals are unbiased for a uniform (random) search; searchers that converge sample
some choices with the others they prefer, which the marginals then share.

Several run directories are pooled when they search the same space for the same task and reward; trials of one
fidelity are analysed together (the one with the most evaluated trials, when a run has several).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nasdip import registry
from nasdip.arch.document import Choice
from nasdip.arch.space import Decision
from nasdip.errors import NasdipError
from nasdip.report.columns import reward_unit, task_text, trial_setting, with_unit
from nasdip.search.records import FAILED, OK, Trial
from nasdip.search.rundir import RunDirectory

#: Fewest evaluated trials the analysis accepts.
MIN_TRIALS = 3
#: Fewest trials per choice for a decision's effect to be ranked with some confidence.
MIN_PER_CHOICE = 3

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (table up to 30, then a series in 1/df)."""
    if df < 1:
        raise ValueError("degrees of freedom must be positive")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass
class ChoiceEffect:
    """The reward of the trials that took one choice of a decision."""

    choice: Choice
    n: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    failed: int = 0


@dataclass
class DecisionEffect:
    """One decision: the reward by choice and the share of the reward's variance the choice explains."""

    name: str
    importance: float | None
    eta_squared: float | None
    spread: float | None
    choices: list[ChoiceEffect] = field(default_factory=list)


def _choice_effect(choice: Choice, rewards: list[float], failed: int) -> ChoiceEffect:
    n = len(rewards)
    if n == 0:
        return ChoiceEffect(choice, 0, None, None, None, failed)
    mean = sum(rewards) / n
    if n == 1:
        return ChoiceEffect(choice, 1, mean, None, None, failed)
    deviation = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1))
    half = t_quantile_975(n - 1) * deviation / math.sqrt(n)
    return ChoiceEffect(choice, n, mean, mean - half, mean + half, failed)


def _decision_effect(decision: Decision, groups: list[list[float]], failures: list[int]) -> DecisionEffect:
    choices = [_choice_effect(c, g, f) for c, g, f in zip(decision.choices, groups, failures, strict=True)]
    seen = [group for group in groups if group]
    rewards = [r for group in seen for r in group]
    if len(seen) < 2:
        return DecisionEffect(decision.name, None, None, None, choices)
    grand = sum(rewards) / len(rewards)
    total = sum((r - grand) ** 2 for r in rewards)
    between = sum(len(g) * (sum(g) / len(g) - grand) ** 2 for g in seen)
    means = [sum(g) / len(g) for g in seen]
    spread = max(means) - min(means)
    if total <= 1e-12 * max(1.0, grand * grand) * len(rewards):
        return DecisionEffect(decision.name, 0.0, 0.0, spread, choices)
    eta = between / total
    within_df = len(rewards) - len(seen)
    importance = None
    if within_df > 0:
        importance = (between - (len(seen) - 1) * (total - between) / within_df) / total
        importance = min(1.0, max(0.0, importance))
    return DecisionEffect(decision.name, importance, eta, spread, choices)


def decision_effects(decisions: Sequence[Decision],
                     samples: Sequence[tuple[Mapping[str, Choice], float | None]]) -> list[DecisionEffect]:
    """Effects of each decision given ``(choices, reward)`` samples (reward ``None`` for a failed trial), most
    important first (decisions whose choice never varied last)."""
    effects = []
    for decision in decisions:
        groups: list[list[float]] = [[] for _ in decision.choices]
        failures = [0] * len(decision.choices)
        for choices, reward in samples:
            if decision.name not in choices:
                continue
            try:
                position = decision.index(choices[decision.name])
            except ValueError:
                continue
            if reward is None:
                failures[position] += 1
            else:
                groups[position].append(float(reward))
        effects.append(_decision_effect(decision, groups, failures))
    return sorted(effects, key=lambda e: (e.importance is None, -(e.importance or 0.0), -(e.spread or 0.0)))


@dataclass
class Analysis:
    """The decision effects of one or more pooled search runs."""

    runs: list[str]
    space: str
    task: str
    reward: str
    unit: str
    setting: dict[str, Any]
    evaluated: int
    failed: int
    left_out: int
    decisions: list[DecisionEffect]
    searchers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meanings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def reward_label(self) -> str:
        return with_unit(self.reward, self.unit)


def _setting_key(trial: Trial) -> str:
    return json.dumps(trial_setting(trial), sort_keys=True, default=str)


def analyze_trials(trials: Sequence[Trial], space: str, task: str, reward: str, runs: Sequence[str],
                   searchers: Sequence[str] = ()) -> Analysis:
    """Analyse evaluated trials (duplicates are ignored) of one space, task and reward (found by ``searchers``)."""
    evaluated = [trial for trial in trials if trial.status in (OK, FAILED)]
    by_setting: dict[str, list[Trial]] = {}
    for trial in evaluated:
        by_setting.setdefault(_setting_key(trial), []).append(trial)
    names = ", ".join(runs)
    if not by_setting:
        raise NasdipError(f"{names}: no evaluated trials to analyse")
    chosen = max(by_setting.values(), key=lambda group: sum(trial.status == OK for trial in group))
    ok = sum(trial.status == OK for trial in chosen)
    if ok < MIN_TRIALS:
        raise NasdipError(f"{names}: {ok} evaluated trial{'s' * (ok != 1)} at one fidelity; the decision analysis "
                          f"needs at least {MIN_TRIALS} (search with a larger --budget)")
    decisions = registry.get("spaces", space).decisions
    reward = (chosen[0].fidelity or {}).get("score") or reward  # a score rung's trials carry the score, not the reward
    samples = [(trial.arch.get("choices", {}), trial.reward if trial.status == OK else None) for trial in chosen]
    effects = decision_effects(decisions, samples)
    return Analysis(runs=list(runs), space=space, task=task, reward=reward, unit=reward_unit(reward),
                    setting=trial_setting(chosen[0]), evaluated=ok, failed=len(chosen) - ok,
                    left_out=len(evaluated) - len(chosen), decisions=effects, searchers=sorted(set(searchers)),
                    warnings=sample_warnings(effects, ok), meanings={d.name: d.help for d in decisions if d.help})


def sample_warnings(effects: Sequence[DecisionEffect], evaluated: int) -> list[str]:
    """Why the ranking may not hold: decisions whose seen choices have fewer than :data:`MIN_PER_CHOICE` trials,
    and fewer trials than decisions that varied (their effects then cannot be told apart)."""
    varied = [effect for effect in effects if effect.importance is not None]
    thin = [effect.name for effect in varied if any(0 < c.n < MIN_PER_CHOICE for c in effect.choices)]
    warnings = []
    if varied and evaluated <= len(varied):
        warnings.append(f"{evaluated} evaluated trials for {len(varied)} decisions that varied: too few to tell "
                        f"their effects apart (decisions that always changed together share one); search with a "
                        f"larger --budget before trusting the ranking")
    elif thin:
        warnings.append(f"{len(thin)} of {len(varied)} decisions have a choice seen in fewer than {MIN_PER_CHOICE} "
                        f"trials ({', '.join(thin[:5])}{', ...' if len(thin) > 5 else ''}): their importance is "
                        f"uncertain")
    return warnings


def analyze_runs(paths: Sequence[str | Path]) -> Analysis:
    """Pool the trials of search run directories (same space, task and reward) and analyse their decisions."""
    runs = [RunDirectory.open(path) for path in paths]
    configs = [run.config for run in runs]
    for label, value in (("space", lambda c: c["space"]), ("task", task_text), ("reward", lambda c: c["reward"])):
        values = {str(run.path): value(config) for run, config in zip(runs, configs, strict=True)}
        if len(set(values.values())) > 1:
            listed = "; ".join(f"{path}: {v}" for path, v in values.items())
            raise NasdipError(f"the runs differ in {label} ({listed}); analyse runs of one space, task and reward "
                              f"together")
    trials = [trial for run in runs for trial in run.trials()]
    searchers = [str(config.get("searcher", "?")) for config in configs]
    analysis = analyze_trials(trials, configs[0]["space"], task_text(configs[0]), configs[0]["reward"],
                              [str(run.path) for run in runs], searchers)
    if len(set(searchers)) > 1:
        analysis.warnings.insert(0, f"pooled the trials of different searchers ({', '.join(sorted(set(searchers)))}): "
                                    f"they sample choices differently, so the marginals mix their preferences")
    return analysis


# -- presentation ---------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _title(analysis: Analysis) -> str:
    setting = ", ".join(f"{k.removeprefix('fidelity_')}={v}" for k, v in analysis.setting.items())
    extra = f", {analysis.failed} failed" if analysis.failed else ""
    left = f"; {analysis.left_out} trials at other fidelities left out" if analysis.left_out else ""
    return (f"space {analysis.space}, task {analysis.task}, reward {analysis.reward_label}: {analysis.evaluated} "
            f"evaluated trials{extra} ({setting}){left}")


def analysis_lines(analysis: Analysis) -> list[str]:
    """The analysis as a plain-text table: one block per decision, most important first."""
    lines = [_title(analysis), *(f"warning: {warning}" for warning in analysis.warnings),
             "importance: share of the reward's variance explained by the decision (epsilon squared; - = never varied)",
             f"{'decision':14} {'importance':>10}  {'choice':16} {'mean':>8} {'95% CI':>17} {'n':>4} {'failed':>6}"]
    for effect in analysis.decisions:
        first = True
        for choice in effect.choices:
            if choice.n == 0 and choice.failed == 0:
                continue
            ci = "-" if choice.ci_low is None else f"{choice.ci_low:.2f} .. {choice.ci_high:.2f}"
            head = f"{effect.name:14} {_number(effect.importance):>10}" if first else " " * 25
            lines.append(f"{head}  {choice.choice!s:16} {_number(choice.mean):>8} {ci:>17} {choice.n:>4} "
                         f"{choice.failed:>6}")
            first = False
    return lines


def analysis_markdown(analysis: Analysis) -> str:
    """The analysis as a Markdown table (for TensorBoard's text dashboard)."""
    rows = [f"**{_title(analysis)}**", "", *(f"*Warning: {warning}*\n" for warning in analysis.warnings),
            f"| decision | importance | choice | mean {analysis.reward_label} | 95% CI | n | failed |",
            "|---|---|---|---|---|---|---|"]
    for effect in analysis.decisions:
        for position, choice in enumerate(c for c in effect.choices if c.n or c.failed):
            ci = "-" if choice.ci_low is None else f"{choice.ci_low:.2f} .. {choice.ci_high:.2f}"
            name, importance = (effect.name, _number(effect.importance)) if position == 0 else ("", "")
            rows.append(f"| {name} | {importance} | {choice.choice} | {_number(choice.mean)} | {ci} | {choice.n} | "
                        f"{choice.failed} |")
    return "\n".join(rows)


def analysis_figure(analysis: Analysis, panels: int = 6):
    """One figure: every decision's importance (bars, left) and the reward by choice of the most important ones
    (means with 95% intervals, right)."""
    from matplotlib.figure import Figure

    ranked = [effect for effect in analysis.decisions if effect.importance is not None]
    shown = ranked[:panels]
    rows = max(1, math.ceil(len(shown) / 2))
    height = max(4.0, 0.22 * len(ranked) + 1.5, 2.6 * rows + 0.8)
    figure = Figure(figsize=(13, height), layout="constrained")
    grid = figure.add_gridspec(rows, 3, width_ratios=(1.1, 1, 1))
    bars = figure.add_subplot(grid[:, 0])
    names = [effect.name for effect in ranked][::-1]
    scores = [effect.importance for effect in ranked][::-1]
    bars.barh(names, scores, height=0.6, color="tab:blue")
    for position, score in enumerate(scores):
        bars.annotate(f"{score:.2f}", (score, position), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=7)
    bars.set(xlabel="share of reward variance explained (epsilon squared)", title="importance of each decision",
             xlim=(0, max([0.05] + [score * 1.15 for score in scores])))
    bars.tick_params(axis="y", labelsize=8)
    bars.grid(axis="x", alpha=0.3)
    for index, effect in enumerate(shown):
        axis = figure.add_subplot(grid[index // 2, 1 + index % 2])
        seen = [choice for choice in effect.choices if choice.n]
        for position, choice in enumerate(seen):
            if choice.ci_low is None:  # one trial: no interval, drawn hollow
                axis.plot([position], [choice.mean], "o", markerfacecolor="none", color="tab:blue")
            else:
                axis.errorbar([position], [choice.mean], yerr=[[choice.mean - choice.ci_low],
                                                               [choice.ci_high - choice.mean]],
                              fmt="o", capsize=4, color="tab:blue")
        axis.set_xticks(range(len(seen)), [f"{choice.choice} (n={choice.n})" for choice in seen], fontsize=8,
                        rotation=20, ha="right")
        axis.set_xlim(-0.6, len(seen) - 0.4)
        meaning = analysis.meanings.get(effect.name, "")
        axis.set_title(f"{effect.name} (importance {effect.importance:.2f})" + (f"\n{meaning}" if meaning else ""),
                       fontsize=9)
        axis.set_ylabel(f"mean {analysis.reward_label}", fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    runs = ", ".join(Path(run).name for run in analysis.runs)
    warnings = "".join(f"\nwarning: {warning}" for warning in analysis.warnings)
    figure.suptitle(f"What the search learned ({runs})\n{_title(analysis)}{warnings}", fontsize=10)
    figure.supxlabel("dots: mean reward of the trials that took the choice; whiskers: 95% confidence interval; "
                     "hollow: a single trial", fontsize=8)
    return figure
