"""Ladder specs: parsing and formatting round trips, the score rung's place and checks, one-line errors."""

from __future__ import annotations

import pytest

from nasdip.errors import UsageError
from nasdip.search.jobs import Fidelity
from nasdip.search.ladder import (
    DEFAULT_SCORE_ETA,
    check_score_rung,
    format_ladder,
    parse_ladder,
    training_free_scores,
    with_score_rung,
)


def test_a_spec_with_a_score_rung_round_trips():
    score, fitted = parse_ladder("score:psd,300:32:16,1500:96:32")
    assert score == Fidelity(0, None, 0, score="psd", eta=DEFAULT_SCORE_ETA)
    assert fitted == [Fidelity(300, 32, 16), Fidelity(1500, 96, 32)]
    ladder = with_score_rung(score, fitted)
    assert ladder[0] == Fidelity(0, 32, 16, score="psd", eta=10)
    assert ladder[0].to_dict() == {"iters": 0, "crop": 32, "width": 16, "score": "psd", "eta": 10}
    assert ladder[1].to_dict() == {"iters": 300, "crop": 32, "width": 16}  # fitted rungs are recorded as before
    assert format_ladder(ladder) == "score:psd:10,300:32:16,1500:96:32"
    assert with_score_rung(*parse_ladder(format_ladder(ladder))) == ladder


def test_the_built_in_scores_are_training_free():
    assert {"psd", "psd-hist", "lowpass"} <= set(training_free_scores())
    assert "psnr" not in training_free_scores()


@pytest.mark.parametrize(("spec", "message"), [
    ("300:32:16,score:psd", r"--ladder: the score rung must be the first rung \('score:psd' is rung 1\)"),
    ("score", "write a score rung as score:NAME or score:NAME:ETA"),
    ("score:psd:x", "the score rung's ETA must be an integer"),
    ("300:32", "'300:32' is neither ITERS:CROP:WIDTH nor score:NAME"),
])
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(UsageError, match=message):
        parse_ladder(spec)


SCORE = Fidelity(0, 32, 8, score="psd", eta=4)


@pytest.mark.parametrize(("ladder", "message"), [
    ([Fidelity(10, 32, 8), SCORE], "the score rung must be the first rung of the ladder; rung 1 is score:psd"),
    ([Fidelity(0, 32, 8, score="nope", eta=4), Fidelity(10, 32, 8)], "unknown score 'nope' for the score rung; "
                                                                     "choose from psd, psd-hist, lowpass"),
    ([Fidelity(0, 32, 8, score="psnr", eta=4), Fidelity(10, 32, 8)], "reward 'psnr' needs a fit, so it cannot "
                                                                     "score the score rung"),
    ([Fidelity(0, 32, 8, score="psd", eta=0), Fidelity(10, 32, 8)], "the score rung's eta must be at least 2 "
                                                                    r"\(it passes on the best 1/eta"),
    ([SCORE], "a score rung needs a fitted rung after it"),
])
def test_unusable_score_rungs_are_refused(ladder, message):
    with pytest.raises(UsageError, match=message):
        check_score_rung(ladder)
