"""Progress bars (tqdm, on stderr) fed by the fitting engine's synchronisation callbacks."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from tqdm import tqdm


class FitProgress:
    """A bar over fitting steps, possibly spanning several fits; ``callback`` plugs into ``fit(callbacks=...)``."""

    def __init__(self, total: int, description: str, quiet: bool = False) -> None:
        self.bar = tqdm(total=total, desc=description, unit="step", file=sys.stderr, disable=True if quiet else None,
                        dynamic_ncols=True)
        self.offset = 0
        self.label = ""

    def start(self, label: str) -> None:
        """A new fit begins (its steps count after the previous fits')."""
        self.offset = self.bar.n
        self.label = label

    def callback(self, step: int, metrics: Mapping[str, float]) -> None:
        self.bar.update(self.offset + step - self.bar.n)
        postfix = {"loss": f"{metrics['loss']:.2e}"}
        for key, value in metrics.items():
            if key != "loss":
                postfix[key] = f"{value:.2f}"
        if self.label:
            postfix["fit"] = self.label
        self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()
