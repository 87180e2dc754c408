"""``evolution``: regularized (aging) evolution (Real et al., 2019).

The first ``population`` candidates are random; afterwards each candidate is a mutation (one decision changed,
within the masks) of the best of ``sample`` members drawn from the population, and the oldest member leaves
when a new one joins. Failed candidates never join the population.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from nasdip.arch.document import Arch
from nasdip.options import Option
from nasdip.search.searcher import Searcher


class EvolutionSearcher(Searcher):
    """Aging evolution: tournament selection and single-decision mutation."""

    name = "evolution"
    help = "regularized (aging) evolution: tournament selection, one-decision mutations"
    options = (
        Option("population", int, 8, "architectures kept (the oldest is removed)", min=1, max=100_000),
        Option("sample", int, 3, "tournament size: the best of this many random members is mutated", min=1,
               max=100_000),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.population: deque[tuple[Arch, float]] = deque()
        self.asked = 0

    def ask(self) -> Arch:
        self.asked += 1
        if self.asked <= self.values["population"] or not self.population:
            return self.space.sample(self.rng)
        contenders = self.rng.sample(list(self.population), min(self.values["sample"], len(self.population)))
        parent = max(contenders, key=lambda member: member[1])[0]
        return self.space.mutate(parent, self.rng)

    def tell(self, arch: Arch, reward: float | None) -> None:
        if reward is None:
            return
        self.population.append((arch, reward))
        while len(self.population) > self.values["population"]:
            self.population.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "asked": self.asked,
                "population": [(arch.to_dict(), reward) for arch, reward in self.population]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.asked = state["asked"]
        self.population = deque((Arch.from_dict(document), reward) for document, reward in state["population"])
