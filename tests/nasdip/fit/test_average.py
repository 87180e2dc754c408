"""The output average: an exponential average matching a loop written here, no average without a weight, and
save/restore copies that never alias the live average."""

from __future__ import annotations

import torch

from nasdip.fit.average import OutputAverage


def outputs(count: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, 4, 5, generator=generator) for _ in range(count)]


def test_without_a_weight_the_current_output_is_reported_and_nothing_is_kept():
    average = OutputAverage(None)
    for current in outputs(3):
        assert average.update(current) is current
    assert average.value is None
    assert average.save(None) is None


def test_the_average_matches_an_exponential_average_computed_by_hand():
    weight = 0.9
    sequence = outputs(12)
    average = OutputAverage(weight)
    expected = None
    for current in sequence:
        expected = current.clone() if expected is None else weight * expected + (1 - weight) * current
        reported = average.update(current)
        torch.testing.assert_close(reported, expected, rtol=0, atol=1e-6)
    # Not just the last output: the early ones still count with weight 0.9^(n-1-i) (1 - 0.9), the first 0.9^(n-1).
    weights = [weight ** (len(sequence) - 1)] + [(1 - weight) * weight ** (len(sequence) - 1 - i)
                                                 for i in range(1, len(sequence))]
    assert abs(sum(weights) - 1.0) < 1e-12
    torch.testing.assert_close(average.value, sum(w * x for w, x in zip(weights, sequence, strict=True)),
                               rtol=0, atol=1e-6)


def test_the_first_output_starts_the_average_as_a_copy():
    first, second = outputs(2)
    average = OutputAverage(0.99)
    reported = average.update(first)
    assert torch.equal(reported, first) and reported is not first
    first.fill_(7.0)  # the caller's tensor changing later leaves the average alone
    assert not torch.equal(average.value, first)
    assert average.update(second) is average.value  # the average is what the fit reports


def test_a_zero_weight_follows_the_current_output():
    average = OutputAverage(0.0)
    for current in outputs(4):
        assert torch.equal(average.update(current), current)


def test_save_makes_a_copy_and_then_refreshes_it_in_place():
    average = OutputAverage(0.5)
    first, second = outputs(2)
    average.update(first)
    saved = average.save(None)
    assert torch.equal(saved, average.value) and saved.data_ptr() != average.value.data_ptr()
    average.update(second)
    refreshed = average.save(saved)
    assert refreshed is saved and torch.equal(saved, average.value)


def test_restore_returns_to_the_saved_average_exactly():
    average = OutputAverage(0.8)
    sequence = outputs(6)
    for current in sequence[:3]:
        average.update(current)
    saved = average.save(None)
    kept = saved.clone()
    for current in sequence[3:]:
        average.update(current)
    assert not torch.equal(average.value, kept)
    average.restore(saved)
    assert torch.equal(average.value, kept)
    average.update(sequence[3])  # updating in place after a restore must not write into the saved copy
    assert torch.equal(saved, kept)


def test_restoring_an_average_saved_before_it_existed_restarts_it():
    average = OutputAverage(0.9)
    saved = average.save(None)
    first, second = outputs(2)
    average.update(first)
    average.restore(saved)
    assert average.value is None
    assert torch.equal(average.update(second), second)
