"""Search spaces: ordered categorical decisions, masks that keep every point buildable, and generic operations.

A space declares its decisions once; searchers sample, mutate and encode architectures through this API without
knowing what the decisions mean. A decision may depend on earlier ones: :meth:`Space.allowed` returns the mask
of choices that are buildable given the earlier choices, so anything sampled decision by decision, in order,
with masks applied, is valid by construction. A decision that an earlier choice makes irrelevant is masked down
to a single canonical choice, so every architecture has exactly one spelling (its canonical form).
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nasdip.arch.document import Arch, Choice
from nasdip.errors import ArchError, NasdipError

if TYPE_CHECKING:
    from torch import nn

    from nasdip.nn.config import NetConfig
    from nasdip.nn.supernet import SuperNet


@dataclass(frozen=True)
class Decision:
    """One categorical decision of a space.

    ``depends_on`` names the earlier decisions whose choices can restrict this one (see :meth:`Space.allowed`).
    """

    name: str
    choices: tuple[Choice, ...]
    help: str = ""
    depends_on: tuple[str, ...] = ()

    def index(self, choice: Choice) -> int:
        """Position of ``choice``; types must match (``"5"`` is not the choice ``5``, nor ``True`` ``1``)."""
        for position, candidate in enumerate(self.choices):
            if type(choice) is type(candidate) and choice == candidate:
                return position
        raise ValueError(choice)


class Space(ABC):
    """A family of networks described by a fixed, ordered tuple of decisions."""

    #: Registry name, used in architecture documents and on the command line.
    name: str = ""
    #: One-line description.
    help: str = ""
    #: The decisions, in the order they are taken.
    decisions: tuple[Decision, ...] = ()

    # -- what a space must or may provide -------------------------------------------------------------

    def allowed(self, decision: Decision, prior: Mapping[str, Choice]) -> tuple[bool, ...]:
        """Mask over ``decision.choices`` given the choices already taken (``prior``); default: all allowed."""
        return (True,) * len(decision.choices)

    @abstractmethod
    def build(self, arch: Arch, config: NetConfig) -> nn.Module:
        """Build the network for a validated ``arch``: noise ``(N, input_depth, H, W)`` to ``(N, C, H, W)``.

        ``H`` and ``W`` are multiples of :meth:`multiple`; :func:`nasdip.arch.build.build_network` pads other sizes.
        """

    def multiple(self, config: NetConfig) -> int:
        """Spatial size multiple the raw network needs."""
        return 2**config.depth

    def min_size(self, config: NetConfig) -> int:
        """Smallest padded side the raw network runs on."""
        return 2 * self.multiple(config)

    def check_config(self, config: NetConfig) -> None:
        """Raise :class:`NasdipError` when ``config`` cannot be built by this space."""

    def presets(self) -> Sequence[Arch]:
        """Named architectures this space ships (for ``--arch NAME``)."""
        return ()

    def describe(self, arch: Arch) -> list[str]:
        """Readable lines summarising ``arch``; default: one line per decision."""
        return [f"{decision.name}: {arch.choices[decision.name]}" for decision in self.decisions]

    def rebuild(self, net: nn.Module, arch: Arch, config: NetConfig) -> bool:
        """Turn ``net`` (a network this space built with ``config``) into the network of the validated ``arch`` in
        place, where that is cheaper than :meth:`build` (e.g. only some modules depend on the choices); ``False``
        (the default) where it cannot, and the caller builds afresh. The rebuilt network must hold the modules a
        fresh build would, registered in the order it builds them, so that re-initialising them from a seed gives
        the fresh build's weights; its parameters are the caller's to re-initialise. Training-free scores use it
        to rate many candidates without constructing each network (:mod:`nasdip.fit.untrained`)."""
        return False

    def build_supernet(self, config: NetConfig, arch_logits: nn.ParameterDict | None = None) -> SuperNet:
        """A network in which each decision is a softmax-weighted mixture of its choices (differentiable search).

        ``arch_logits`` (one vector per decision) may be shared between several super-networks; new zero logits
        are made when it is ``None``. The result maps noise to images like :meth:`build`.
        """
        raise NasdipError(f"search space {self.name!r} has no super-network for differentiable search")

    # -- generic operations ------------------------------------------------------------------------------

    def decision(self, name: str) -> Decision:
        """The decision called ``name``."""
        for decision in self.decisions:
            if decision.name == name:
                return decision
        raise KeyError(name)

    def arch(self, choices: Mapping[str, Choice], name: str | None = None, **meta: object) -> Arch:
        """Make and validate an architecture of this space from its choices."""
        return self.validate(Arch(self.name, dict(choices), name=name, meta=dict(meta)))

    def validate(self, arch: Arch, source: str = "arch") -> Arch:
        """Check ``arch`` against this space and return its canonical form (choices typed as declared).

        Errors name the field: ``arch.choices.kernel: 4 is not a choice (choose from 1, 3, 5, 7)``.
        """
        if arch.space != self.name:
            raise ArchError(f"{source}.space: {arch.space!r} is not {self.name!r}")
        known = {decision.name for decision in self.decisions}
        unknown = sorted(set(arch.choices) - known)
        if unknown:
            raise ArchError(
                f"{source}.choices.{unknown[0]}: space {self.name!r} has no decision of that name "
                f"(its decisions: {', '.join(sorted(known)) or 'none'})"
            )
        canonical: dict[str, Choice] = {}
        for decision in self.decisions:
            field = f"{source}.choices.{decision.name}"
            if decision.name not in arch.choices:
                raise ArchError(f"{field}: missing (choose from {_listing(decision.choices)})")
            given = arch.choices[decision.name]
            try:
                position = decision.index(given)
            except ValueError:
                raise ArchError(f"{field}: {_not_a_choice(given, decision.choices)}") from None
            mask = self.allowed(decision, canonical)
            if not mask[position]:
                allowed = [choice for choice, ok in zip(decision.choices, mask, strict=True) if ok]
                context = ", ".join(f"{name}={canonical[name]!r}" for name in decision.depends_on if name in canonical)
                raise ArchError(f"{field}: {given!r} is not allowed with {context}; allowed here: {_listing(allowed)}")
            canonical[decision.name] = decision.choices[position]
        return Arch(self.name, canonical, name=arch.name, meta=dict(arch.meta))

    def sample(self, rng: random.Random) -> Arch:
        """Uniform choice per decision, in order, within the masks."""
        choices: dict[str, Choice] = {}
        for decision in self.decisions:
            options = [c for c, ok in zip(decision.choices, self.allowed(decision, choices), strict=True) if ok]
            choices[decision.name] = rng.choice(options)
        return Arch(self.name, choices)

    def derive(self, logits: Mapping[str, Sequence[float]]) -> Arch:
        """The architecture taking, decision by decision, the allowed choice with the largest logit."""
        choices: dict[str, Choice] = {}
        for decision in self.decisions:
            mask = self.allowed(decision, choices)
            values = [float(v) for v in logits[decision.name]]
            best = max((value, -position) for position, (value, ok) in enumerate(zip(values, mask, strict=True)) if ok)
            choices[decision.name] = decision.choices[-best[1]]
        return Arch(self.name, choices)

    def encode(self, arch: Arch) -> tuple[int, ...]:
        """Choice indices of ``arch``, in decision order."""
        return tuple(decision.index(arch.choices[decision.name]) for decision in self.decisions)

    def decode(self, indices: Sequence[int]) -> Arch:
        """The architecture with these choice indices (validated)."""
        if len(indices) != len(self.decisions):
            raise ArchError(f"expected {len(self.decisions)} choice indices, got {len(indices)}")
        return self.arch({d.name: d.choices[i] for d, i in zip(self.decisions, indices, strict=True)})

    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """Change one decision that has an alternative; later decisions that become invalid are re-sampled."""
        free = [
            d for d in self.decisions
            if sum(self.allowed(d, {p.name: arch.choices[p.name] for p in self._before(d)})) > 1
        ]
        if not free:
            return arch
        target = rng.choice(free)
        choices: dict[str, Choice] = {}
        for decision in self.decisions:
            mask = self.allowed(decision, choices)
            options = [c for c, ok in zip(decision.choices, mask, strict=True) if ok]
            current = arch.choices[decision.name]
            if decision is target:
                options = [c for c in options if c != current] or options
                choices[decision.name] = rng.choice(options)
            elif current in options:
                choices[decision.name] = current
            else:
                choices[decision.name] = rng.choice(options)
        return Arch(self.name, choices)

    def _before(self, decision: Decision) -> tuple[Decision, ...]:
        return self.decisions[: self.decisions.index(decision)]


def _not_a_choice(given: object, choices: Sequence[Choice]) -> str:
    """Why ``given`` is not among ``choices``, spelling out a type mismatch (``"3"`` for the number ``3``)."""
    listing = f"(choose from {_listing(choices)})"
    for candidate in choices:
        if str(candidate) == str(given) and type(candidate) is not type(given):
            kind = "a number" if isinstance(candidate, int) else "a string"
            return f"{given!r} must be {kind}: write {json.dumps(candidate)} {listing}"
    return f"{given!r} is not a choice {listing}"


def _listing(choices: Sequence[Choice]) -> str:
    return ", ".join(str(choice) for choice in choices)
