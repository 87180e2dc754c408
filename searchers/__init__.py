"""Built-in search strategies: ``random``, ``evolution``, ``rl`` (NAS-DIP's controller) and ``darts``.

Registration imports each module when searchers are first looked up, so starting the command line imports no
torch.
"""

from __future__ import annotations

from nasdip import hookimpl


@hookimpl
def register_searchers(register) -> None:
    from nasdip.searchers.darts import DartsSearcher
    from nasdip.searchers.evolution import EvolutionSearcher
    from nasdip.searchers.random import RandomSearcher
    from nasdip.searchers.rl import RLSearcher

    for searcher in (RandomSearcher, EvolutionSearcher, RLSearcher, DartsSearcher):
        register(searcher)
