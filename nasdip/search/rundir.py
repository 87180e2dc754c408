"""The search run directory: everything a search needs to be inspected, compared and resumed.

::

    config.json          the search's full configuration (seeds included)
    problems.pt          the degraded search images (identical on resume)
    trials.jsonl         one line per finished trial, appended and fsynced as trials finish
    state.pt             searcher state after the last completed round, with the round number
    pending.pt           the round in progress: its proposals and the searcher state right after proposing
    best.json            the best architecture so far (a normal architecture document)
    best_restoration.png the best architecture's restoration of the first search image
    events.out.tfevents.* TensorBoard events (the run directory is the TensorBoard run, named after it)
    trials/NNNN/         TensorBoard HParams sessions, one per evaluated trial (written by the TensorBoard logger)

Every file but ``trials.jsonl`` is replaced atomically; a line of ``trials.jsonl`` cut short by a kill is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from nasdip.arch import Arch, save_arch
from nasdip.errors import NasdipError
from nasdip.files import atomic_write, atomic_write_text
from nasdip.search.records import Trial


class RunDirectory:
    """Reads and writes one search run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- creation ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config: dict[str, Any]) -> RunDirectory:
        """A new run directory (refuses to overwrite an existing run)."""
        run = cls(path)
        if (run.path / "config.json").exists():
            raise NasdipError(f"{run.path}: a search run already exists here; pass --resume to continue it "
                              f"or choose another --run-dir")
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.path / "config.json", json.dumps(config, indent=2) + "\n")
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """An existing run directory."""
        run = cls(path)
        if not (run.path / "config.json").is_file():
            raise NasdipError(f"{run.path}: not a search run directory (no config.json)")
        return run

    @property
    def config(self) -> dict[str, Any]:
        return json.loads((self.path / "config.json").read_text())

    @property
    def logdir(self) -> Path:
        """Where loggers write: the run directory itself, so TensorBoard names the run after it."""
        return self.path

    # -- trials -----------------------------------------------------------------------------------

    def append_trial(self, trial: Trial) -> None:
        """Append one trial record and force it to disk."""
        with open(self.path / "trials.jsonl", "a") as stream:
            stream.write(json.dumps(trial.to_dict()) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def trials(self) -> list[Trial]:
        """All recorded trials in index order (a torn last line, from a kill mid-write, is dropped)."""
        path = self.path / "trials.jsonl"
        if not path.exists():
            return []
        trials = []
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            try:
                trials.append(Trial.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                if number == len(lines) - 1:
                    break
                raise NasdipError(f"{path}: line {number + 1} is corrupt") from None
        return sorted(trials, key=lambda trial: trial.index)

    def repair_trials(self, keep: list[Trial]) -> None:
        """Rewrite ``trials.jsonl`` with exactly ``keep`` (drops a torn line before appending more)."""
        text = "".join(json.dumps(trial.to_dict()) + "\n" for trial in keep)
        atomic_write_text(self.path / "trials.jsonl", text)

    # -- binary state -----------------------------------------------------------------------------

    def _save(self, name: str, value: Any) -> None:
        atomic_write(self.path / name, lambda temporary: torch.save(value, temporary))

    def _load(self, name: str) -> Any:
        path = self.path / name
        return torch.load(path, weights_only=True) if path.exists() else None

    def save_problems(self, problems: list[dict[str, Any]]) -> None:
        self._save("problems.pt", problems)

    def load_problems(self) -> list[dict[str, Any]] | None:
        return self._load("problems.pt")

    def save_state(self, state: dict[str, Any]) -> None:
        self._save("state.pt", state)

    def load_state(self) -> dict[str, Any] | None:
        return self._load("state.pt")

    def save_pending(self, pending: dict[str, Any]) -> None:
        self._save("pending.pt", pending)

    def load_pending(self) -> dict[str, Any] | None:
        return self._load("pending.pt")

    def clear_pending(self) -> None:
        (self.path / "pending.pt").unlink(missing_ok=True)

    # -- results ----------------------------------------------------------------------------------

    def save_best(self, arch: Arch, output: torch.Tensor | None) -> None:
        save_arch(arch, self.path / "best.json")
        if output is not None:
            from nasdip.imageio import save_image

            save_image(self.path / "best_restoration.png", output)
