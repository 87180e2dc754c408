"""Random generator states as plain data (lists, tensors) that ``torch.save(weights_only)`` and JSON accept."""

from __future__ import annotations

import random


def python_rng_state(rng: random.Random) -> list:
    """``rng``'s state as ``[version, internal, gauss]`` with a list instead of a tuple."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def load_python_rng_state(rng: random.Random, state: list) -> None:
    """Restore what :func:`python_rng_state` returned."""
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))
