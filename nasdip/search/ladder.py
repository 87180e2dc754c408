"""Fidelity ladders as text, and the score rung that may open one.

A ladder is written ``ITERS:CROP:WIDTH,...``, cheapest rung first (``300:32:16,1500:96:32``). It may begin with a
**score rung**, ``score:NAME[:ETA]``: candidates are scored by the training-free reward ``NAME`` (a reward with
``needs_fit=False``, e.g. ``psd``) on the untrained network at the first fitted rung's crop and width, and only the
best ``1/ETA`` of them (default :data:`DEFAULT_SCORE_ETA`) are fitted. ``score:psd,300:32:16,1500:96:32``
prescreens ten candidates for each one the 300-step rung fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from nasdip import registry
from nasdip.errors import UsageError
from nasdip.search.jobs import Fidelity

#: The word that opens a score rung.
SCORE = "score"
#: Candidates a score rung scores for each one it passes on when the spec gives no ETA. Scoring costs a forward
#: pass (tens of milliseconds at 64x64, width 16), a 300-step fit at 32x32 seconds to tens of seconds: ten scores
#: per fit add a few percent to a search, and a score that ranks poorly still leaves the fitted rungs a tenth of
#: the candidates to choose from.
DEFAULT_SCORE_ETA = 10


def parse_ladder(text: str, flag: str = "--ladder") -> tuple[Fidelity | None, list[Fidelity]]:
    """The score rung (``None`` without one; its crop and width are set by :func:`with_score_rung`) and the fitted
    rungs of a ladder spec; one-line errors naming ``flag``."""
    entries = [entry.strip() for entry in text.split(",")]
    score, fitted = None, []
    for position, entry in enumerate(entries):
        parts = entry.split(":")
        if parts[0] == SCORE:
            if position > 0:
                raise UsageError(f"{flag}: the score rung must be the first rung ({entry!r} is rung {position})")
            score = score_entry(parts, entry, flag)
            continue
        try:
            iters, crop, width = (int(part) for part in parts)
        except ValueError:
            raise UsageError(f"{flag}: {entry!r} is neither ITERS:CROP:WIDTH nor score:NAME[:ETA]") from None
        fitted.append(Fidelity(iters, crop, width))
    return score, fitted


def score_entry(parts: Sequence[str], entry: str, flag: str) -> Fidelity:
    """The score rung of ``score:NAME[:ETA]`` (crop and width still unset)."""
    if len(parts) not in (2, 3) or not parts[1]:
        raise UsageError(f"{flag}: {entry!r}: write a score rung as score:NAME or score:NAME:ETA")
    try:
        eta = int(parts[2]) if len(parts) == 3 else DEFAULT_SCORE_ETA
    except ValueError:
        raise UsageError(f"{flag}: {entry!r}: the score rung's ETA must be an integer") from None
    return Fidelity(0, None, 0, score=parts[1], eta=eta)


def with_score_rung(score: Fidelity | None, fitted: Sequence[Fidelity]) -> list[Fidelity]:
    """The whole ladder: the score rung (at the first fitted rung's crop and width) before ``fitted``."""
    if score is None:
        return list(fitted)
    return [replace(score, crop=fitted[0].crop, width=fitted[0].width), *fitted]


def format_ladder(ladder: Sequence[Fidelity]) -> str:
    """The spec of a ladder (the inverse of :func:`parse_ladder` with :func:`with_score_rung`)."""
    return ",".join(f"{SCORE}:{rung.score}:{rung.eta}" if rung.score else f"{rung.iters}:{rung.crop}:{rung.width}"
                    for rung in ladder)


def training_free_scores() -> list[str]:
    """Registered rewards that need no fit, in registration order."""
    return [reward.name for _, reward in registry.registrations("rewards") if not reward.needs_fit]


def check_score_rung(ladder: Sequence[Fidelity]) -> None:
    """A score rung only first, followed by a fitted rung, naming a registered reward that needs no fit, passing on
    at least one candidate in ``eta`` (``eta`` >= 2): one-line errors otherwise."""
    for position, rung in enumerate(ladder):
        if rung.score is not None and position > 0:
            raise UsageError(f"the score rung must be the first rung of the ladder; rung {position} is "
                             f"score:{rung.score}")
    if not ladder or ladder[0].score is None:
        return
    rung, scores = ladder[0], ", ".join(training_free_scores())
    if rung.score not in registry.names("rewards"):
        raise UsageError(f"unknown score {rung.score!r} for the score rung; choose from {scores}")
    if registry.get("rewards", rung.score).needs_fit:
        raise UsageError(f"reward {rung.score!r} needs a fit, so it cannot score the score rung; choose a "
                         f"training-free score ({scores})")
    if rung.eta is None or rung.eta < 2:
        raise UsageError(f"the score rung's eta must be at least 2 (it passes on the best 1/eta of the candidates "
                         f"it scores), got {rung.eta}")
    if len(ladder) < 2:
        raise UsageError("a score rung needs a fitted rung after it")
