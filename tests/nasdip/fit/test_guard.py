"""The divergence guard: a rollback restores parameters, Adam state and the output average exactly as they were
at the last good check, and the guard tells healthy windows from non-finite or exploding ones."""

from __future__ import annotations

import math

import pytest
import torch

from nasdip.fit.average import OutputAverage
from nasdip.fit.guard import DivergenceGuard, Snapshot


class Fit:
    """A tiny deterministic fit: a two-layer network, Adam, a fixed target and an output average."""

    def __init__(self, ema: float | None = 0.9) -> None:
        with torch.random.fork_rng(devices=[]):  # the same initial weights every time, global RNG untouched
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(5, 4, generator=generator)
        self.y = torch.randn(5, 2, generator=generator)
        self.params = list(self.net.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=0.05)
        self.average = OutputAverage(ema)
        self.snapshot = Snapshot(self.params, self.optimizer, self.average)

    def step(self, count: int = 1) -> list[float]:
        losses = []
        for _ in range(count):
            output = self.net(self.x)
            loss = (output - self.y).square().mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.average.update(output.detach())
            losses.append(loss.item())
        return losses

    def state(self) -> tuple[list[torch.Tensor], list[dict], torch.Tensor | None]:
        """Independent copies of everything a rollback must restore."""
        params = [p.detach().clone() for p in self.params]
        adam = [{key: value.clone() if torch.is_tensor(value) else value
                 for key, value in self.optimizer.state[p].items()} for p in self.params]
        average = None if self.average.value is None else self.average.value.clone()
        return params, adam, average


def assert_same_state(fit: Fit, expected) -> None:
    params, adam, average = expected
    assert all(torch.equal(live, kept) for live, kept in zip(fit.params, params, strict=True))
    for param, kept in zip(fit.params, adam, strict=True):
        live = fit.optimizer.state[param]
        assert set(live) == set(kept)
        for key, value in kept.items():
            assert torch.equal(live[key], value) if torch.is_tensor(value) else live[key] == value
    if average is None:
        assert fit.average.value is None
    else:
        assert torch.equal(fit.average.value, average)


def test_restore_returns_parameters_adam_state_and_average_to_the_last_save():
    fit = Fit()
    fit.step(3)
    fit.snapshot.save()
    kept = fit.state()
    assert set(fit.optimizer.state[fit.params[0]]) == {"step", "exp_avg", "exp_avg_sq"}
    fit.step(4)
    assert not torch.equal(fit.params[0], kept[0][0])
    fit.snapshot.restore()
    assert_same_state(fit, kept)


def test_a_restored_fit_continues_exactly_as_it_did_from_the_save():
    fit = Fit()
    fit.step(2)
    fit.snapshot.save()
    first = fit.step(5)
    after_first = fit.state()
    fit.snapshot.restore()
    assert fit.step(5) == first
    assert_same_state(fit, after_first)


def test_restoring_twice_gives_the_same_state_because_restore_copies():
    fit = Fit()
    fit.step(2)
    fit.snapshot.save()
    kept = fit.state()
    for _ in range(2):
        fit.step(3)  # steps after a restore update the live tensors, never the saved ones
        fit.snapshot.restore()
        assert_same_state(fit, kept)


def test_save_refreshes_the_copies_in_place():
    fit = Fit()
    fit.step(1)
    fit.snapshot.save()
    buffers = [saved.data_ptr() for saved in fit.snapshot.saved_params]
    moments = fit.snapshot.saved_state[0]["exp_avg"]
    average = fit.snapshot.saved_average
    fit.step(2)
    fit.snapshot.save()
    assert [saved.data_ptr() for saved in fit.snapshot.saved_params] == buffers
    assert fit.snapshot.saved_state[0]["exp_avg"] is moments and fit.snapshot.saved_average is average
    assert torch.equal(moments, fit.optimizer.state[fit.params[0]]["exp_avg"])
    assert torch.equal(average, fit.average.value)


def test_a_snapshot_starts_from_the_initial_parameters_and_no_adam_state():
    fit = Fit()
    initial = [p.detach().clone() for p in fit.params]
    fit.step(3)
    fit.snapshot.restore()
    assert all(torch.equal(live, kept) for live, kept in zip(fit.params, initial, strict=True))
    assert all(fit.optimizer.state[p] == {} for p in fit.params)
    # An average saved before it existed restarts rather than keeping what the diverged steps produced.
    assert fit.average.value is None
    # Adam starts afresh from there: the same losses as a new fit.
    assert fit.step(3) == Fit().step(3)


def test_a_snapshot_without_an_average_keeps_none():
    fit = Fit(ema=None)
    fit.step(2)
    fit.snapshot.save()
    fit.step(2)
    fit.snapshot.restore()
    assert fit.average.value is None and fit.snapshot.saved_average is None


@pytest.mark.parametrize("losses", [[1.0, math.nan, 0.9], [math.inf], [0.5, -math.inf], [math.nan]])
def test_non_finite_losses_roll_back(losses):
    guard = DivergenceGuard(Fit().snapshot, guard_db=5.0)
    assert guard.check(losses) is False
    assert (guard.rollbacks, guard.good_checks, guard.last_good) == (1, 0, math.inf)


def test_a_rise_beyond_guard_db_rolls_back_and_a_smaller_one_does_not():
    guard = DivergenceGuard(Fit().snapshot, guard_db=10.0)  # a factor of exactly 10
    assert guard.factor == 10.0
    assert guard.check([5.0, 2.0]) is True and guard.last_good == 2.0
    assert guard.check([30.0, 20.0]) is True  # 10x the last good loss: not more than 10 dB
    assert guard.last_good == 20.0
    assert guard.check([1.0, 200.1]) is False  # only the last loss of the window counts against the threshold
    assert guard.last_good == 20.0  # a rollback keeps the reference
    assert guard.check([199.0]) is True
    assert (guard.rollbacks, guard.good_checks) == (1, 3)


def test_the_factor_is_guard_db_in_decibels():
    assert DivergenceGuard(Fit().snapshot, guard_db=5.0).factor == pytest.approx(10**0.5)
    assert DivergenceGuard(Fit().snapshot, guard_db=20.0).factor == pytest.approx(100.0)


def test_a_rollback_returns_to_the_state_of_the_last_good_check():
    fit = Fit()
    guard = DivergenceGuard(fit.snapshot, guard_db=5.0)
    assert guard.check(fit.step(3))
    assert guard.check(fit.step(3))  # the state after six steps replaces the one after three as the good copy
    good = fit.state()
    fit.step(2)
    assert guard.check([math.nan]) is False
    assert_same_state(fit, good)
    assert guard.rollbacks == 1 and guard.good_checks == 2


def test_a_healthy_check_saves_the_state():
    fit = Fit()
    guard = DivergenceGuard(fit.snapshot, guard_db=5.0)
    fit.step(4)
    kept = fit.state()
    assert guard.check([0.3])
    fit.step(4)
    guard.check([math.nan])
    assert_same_state(fit, kept)


def test_an_in_place_restore_keeps_the_optimisers_tensors_and_their_values():
    """A CUDA graph reads Adam's state where it was captured: the in-place restore writes into those tensors and
    restores the same values as the copying one."""
    fit, copying = Fit(), Fit()
    fit.snapshot.in_place = True
    for each in (fit, copying):
        each.step(3)
        each.snapshot.save()
    expected = fit.state()
    tensors = [fit.optimizer.state[p]["exp_avg"] for p in fit.params]
    for each in (fit, copying):
        each.step(2)
        each.snapshot.restore()
    assert_same_state(fit, expected)
    assert_same_state(copying, expected)
    assert all(fit.optimizer.state[p]["exp_avg"] is kept for p, kept in zip(fit.params, tensors, strict=True))


def test_an_in_place_restore_to_before_the_first_step_zeroes_adams_state():
    """Saved before any step there is no state: in place, Adam's tensors become zeros (where Adam starts)."""
    fit = Fit()
    fit.snapshot.in_place = True
    fit.step(2)
    fit.snapshot.restore()
    for param in fit.params:
        state = fit.optimizer.state[param]
        assert all(not value.any() for value in state.values() if torch.is_tensor(value))
