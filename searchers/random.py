"""``random``: uniform sampling over the space's decisions (the baseline every searcher must beat)."""

from __future__ import annotations

from typing import Any

from nasdip.arch.document import Arch
from nasdip.search.searcher import Searcher


class RandomSearcher(Searcher):
    """Uniform random search; skips architectures it already proposed when it can."""

    name = "random"
    help = "uniform random sampling over the space (re-draws already proposed archs, up to 100 times)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proposed: set[str] = set()

    def ask(self) -> Arch:
        for _ in range(100):
            arch = self.space.sample(self.rng)
            if arch.key not in self.proposed:
                break
        self.proposed.add(arch.key)
        return arch

    def tell(self, arch: Arch, reward: float | None) -> None:
        """Random search does not learn."""

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "proposed": sorted(self.proposed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.proposed = set(state["proposed"])
