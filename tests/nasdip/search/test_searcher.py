"""The searcher interface: option validation, batches, the default ``tell_round``, state that restores the RNG."""

from __future__ import annotations

import random

import pytest
import torch

from nasdip import registry
from nasdip.errors import UsageError
from nasdip.options import Option
from nasdip.search.searcher import FitObjective, SearchContext, Searcher


@pytest.fixture(scope="module")
def space():
    return registry.get("spaces", "upsample-cell")


class Sampling(Searcher):
    """Samples the space with its RNG and records what it is told."""

    name = "sampling"
    options = (Option("population", int, 4, "how many"), Option("rate", float, 0.5, "how fast"),
               Option("style", str, "greedy", "how", choices=("greedy", "soft")))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked = 0
        self.told: list[tuple[str, float | None]] = []

    def ask(self):
        self.asked += 1
        return self.space.sample(self.rng)

    def tell(self, arch, reward):
        self.told.append((arch.key, reward))


def test_option_defaults_and_converted_values(space):
    assert Sampling(space).values == {"population": 4, "rate": 0.5, "style": "greedy"}
    assert Sampling(space, population="8", rate="0.25", style="soft").values == {
        "population": 8, "rate": 0.25, "style": "soft"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": 3}, "searcher 'sampling' has no option size (its options: population, rate, style)"),
        ({"population": "many"}, "searcher 'sampling' option population: 'many' is not a valid integer."),
        ({"style": "random"}, "style must be one of greedy, soft, got 'random'"),
        ({"rate": "nan"}, "rate must be a finite number, got nan"),
    ],
)
def test_bad_options_are_one_line_usage_errors_naming_the_key(space, values, message):
    with pytest.raises(UsageError) as caught:
        Sampling(space, **values)
    assert str(caught.value) == message


def test_a_searcher_without_options_refuses_any(space):
    class Plain(Sampling):
        name = "plain"
        options = ()

    with pytest.raises(UsageError, match=r"^searcher 'plain' has no option depth \(its options: none\)$"):
        Plain(space, depth=2)


def test_the_rng_is_seeded(space):
    assert Sampling(space, seed=3).rng.random() == random.Random(3).random()
    assert Sampling(space).seed == 0


def test_the_default_context_logs_nowhere_and_has_no_objective(space):
    searcher = Sampling(space)
    assert isinstance(searcher.context, SearchContext) and searcher.context.objective is None
    assert searcher.context.log({"entropy": 1.0}, 3) is None
    logged = []
    objective = FitObjective(task="denoise", problems=[], settings=None, config=None)
    context = SearchContext(log=lambda scalars, step: logged.append((scalars, step)), objective=objective)
    searcher = Sampling(space, context=context)
    searcher.context.log({"entropy": 0.5}, 7)
    assert logged == [({"entropy": 0.5}, 7)] and searcher.context.objective is objective


def test_ask_batch_calls_ask_count_times(space):
    searcher, twin = Sampling(space, seed=5), Sampling(space, seed=5)
    batch = searcher.ask_batch(3)
    assert searcher.asked == 3 and len(batch) == 3
    assert [arch.key for arch in batch] == [twin.ask().key for _ in range(3)]
    assert searcher.ask_batch(0) == [] and searcher.asked == 3


def test_tell_round_passes_the_rung_0_rewards_to_tell_in_order(space):
    searcher = Sampling(space, seed=1)
    a, b, c, d = searcher.ask_batch(4)
    searcher.tell_round([(a, 20.0, 0), (b, 25.0, 1), (c, None, 0), (d, 21.5, 0), (a, 30.0, 2)])
    assert searcher.told == [(a.key, 20.0), (c.key, None), (d.key, 21.5)]


def test_tell_round_of_only_higher_rungs_tells_nothing(space):
    searcher = Sampling(space)
    (arch,) = searcher.ask_batch(1)
    searcher.tell_round([(arch, 22.0, 1)])
    searcher.tell_round([])
    assert searcher.told == []


def test_a_searcher_is_not_finished_by_default(space):
    assert Sampling(space).finished() is False


def test_state_dict_restores_the_rng(space, tmp_path):
    searcher = Sampling(space, seed=2)
    searcher.ask_batch(2)
    torch.save(searcher.state_dict(), tmp_path / "state.pt")
    expected = [arch.key for arch in searcher.ask_batch(3)]
    resumed = Sampling(space, seed=99)
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert [arch.key for arch in resumed.ask_batch(3)] == expected


def test_state_dict_holds_the_rng_state_as_lists(space):
    searcher = Sampling(space, seed=4)
    state = searcher.state_dict()
    assert list(state) == ["rng"]
    version, internal, gauss = state["rng"]
    assert (version, tuple(internal), gauss) == searcher.rng.getstate()


def test_ask_and_tell_are_required():
    class AskOnly(Searcher):
        name = "ask-only"

        def ask(self):
            raise NotImplementedError

    with pytest.raises(TypeError, match="tell"):
        AskOnly(None)
