"""``hill-climb``: first-improvement local search, the example plugin's searcher."""

from __future__ import annotations

from typing import Any

from nasdip import Arch, Searcher


class HillClimbSearcher(Searcher):
    """First-improvement hill climbing: mutate the best architecture found so far."""

    name = "hill-climb"
    help = "local search: mutate the best architecture so far (example plugin)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.best: tuple[float, Arch] | None = None

    def ask(self) -> Arch:
        if self.best is None:
            return self.space.sample(self.rng)
        return self.space.mutate(self.best[1], self.rng)

    def tell(self, arch: Arch, reward: float | None) -> None:
        if reward is not None and (self.best is None or reward > self.best[0]):
            self.best = (reward, arch)

    def state_dict(self) -> dict[str, Any]:
        best = None if self.best is None else [self.best[0], self.best[1].to_dict()]
        return {**super().state_dict(), "best": best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.best = None if state["best"] is None else (state["best"][0], Arch.from_dict(state["best"][1]))
