"""The search run directory: everything a search needs to be inspected, compared and resumed.

::

    config.json          the search's full configuration (seeds included)
    problems.pt          the degraded search images at each crop of the fidelity ladder (identical on resume)
    trials.jsonl         one line per finished trial, appended and fsynced as trials finish
    state.pt             searcher and schedule state after the last completed round, with the round number
    pending.pt           the round in progress: its jobs (candidates and rungs) and the searcher and schedule
                         state right after planning it
    baseline.json        what the observation itself scores on the deployment rung's images (when it compares)
    baseline_arch.json   what ``--baseline-arch`` scores, fitted once at the deployment fidelity
    best.json            the best architecture so far (a normal architecture document)
    best_restoration.png the best architecture's restorations of the search images, captioned
    events.out.tfevents.* TensorBoard events (the run directory is the TensorBoard run, named after it)
    trials/NNNN/         TensorBoard HParams sessions, one per evaluated trial (written by the TensorBoard logger)
    .lock                held by the process running the search (its pid, host and start time inside)

Every file but ``trials.jsonl`` is replaced atomically; a line of ``trials.jsonl`` cut short by a kill is ignored.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pickle
import shutil
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from nasdip.arch.document import Arch, save_arch
from nasdip.errors import NasdipError
from nasdip.io.files import atomic_write, atomic_write_text, read_json, read_text
from nasdip.io.images import save_image
from nasdip.search.baseline import INPUT_BASELINE, Baseline
from nasdip.search.records import Trial

#: The lock file inside a run directory.
LOCK_FILE = ".lock"
#: Free bytes below which a failed write is taken for a full disk (torch.save reports one as a RuntimeError).
NEARLY_FULL = 1 << 20


class DiskFullError(NasdipError):
    """The run directory's disk is full: nothing was half-written, every finished trial is kept."""


def disk_full(error: BaseException, where: Path) -> bool:
    """Whether ``error``, raised writing under ``where``, means the disk (or the quota) is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    try:
        return shutil.disk_usage(where).free < NEARLY_FULL
    except OSError:
        return False


#: What to do about a damaged searcher state: the trials log holds everything a resume replays.
REPLAY_ADVICE = ("delete state.pt and pending.pt and --resume again: the search then replays its trials log "
                 "(trials.jsonl) from the recorded seed and goes on")
#: The fields every ``config.json`` has, with their types (the rest are checked when the settings are rebuilt).
CONFIG_FIELDS: dict[str, tuple[type, ...]] = {"searcher": (str,), "task": (str,), "space": (str,),
                                              "reward": (str,), "seed": (int,), "fidelity": (dict,)}


class RunDirectory:
    """Reads and writes one search run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: Any = None

    # -- exclusive use ----------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the run's lock (``.lock``, held until :meth:`unlock` or the process ends): two searches, fresh
        or resumed, never write one run directory at once. A held lock is a one-line error naming its holder."""
        self.path.mkdir(parents=True, exist_ok=True)
        stream = open(self.path / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the run's duration
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            stream.close()
            raise NasdipError(f"{self.path}: the run directory is in use by {holder}; wait for it to finish, "
                              f"stop it, or choose another --run-dir") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"process {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        stream.flush()
        self._lock = stream

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing releases the lock
            self._lock = None

    # -- creation ---------------------------------------------------------------------------------

    def check_new(self) -> None:
        """Refuse to start a search where one already exists (checked again once the lock is held)."""
        if (self.path / "config.json").exists():
            raise NasdipError(f"{self.path}: a search run already exists here; pass --resume to continue it "
                              f"or choose another --run-dir")

    def create(self, config: dict[str, Any]) -> None:
        """Make the directory and write ``config.json``, the mark of a run (refuses to overwrite an existing one);
        write everything a resume needs before it."""
        self.check_new()
        self.path.mkdir(parents=True, exist_ok=True)
        with self.writing("config.json"):
            atomic_write_text(self.path / "config.json", json.dumps(config, indent=2) + "\n")

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        """An existing run directory."""
        run = cls(path)
        if not (run.path / "config.json").is_file():
            raise NasdipError(f"{run.path}: not a search run directory (no config.json)")
        return run

    @property
    def config(self) -> dict[str, Any]:
        """``config.json``, checked: an object holding a search's settings (one line naming the file and the field
        otherwise)."""
        path = self.path / "config.json"
        config = read_json(path, "a search run configuration")
        if not isinstance(config, dict):
            raise NasdipError(f"{path}: not a search run configuration (a JSON object expected, got "
                              f"{type(config).__name__})")
        for name, kinds in CONFIG_FIELDS.items():
            if name not in config:
                raise NasdipError(f"{path}: not a search run configuration (no {name!r})")
            if isinstance(config[name], bool) or not isinstance(config[name], kinds):
                raise NasdipError(f"{path}: {name!r} has the wrong type ({config[name]!r})")
        if not isinstance(config.get("task_values", {}), dict):
            raise NasdipError(f"{path}: 'task_values' must be a JSON object")
        return config

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[None]:
        """Around every write into the run directory: a full disk becomes one :class:`DiskFullError` naming the
        file, saying that the finished trials are kept and how to continue."""
        try:
            yield
        except NasdipError:
            raise
        except (OSError, RuntimeError) as error:
            if not disk_full(error, self.path):
                raise
            then = (f"every finished trial is in trials.jsonl: free some space, then continue with: nasdip search "
                    f"--resume --run-dir {self.path}") if (self.path / "config.json").exists() else \
                "free some space and start the search again"
            raise DiskFullError(f"{self.path / name}: the disk is full; nothing was half-written; {then}") from None

    @property
    def logdir(self) -> Path:
        """Where loggers write: the run directory itself, so TensorBoard names the run after it."""
        return self.path

    # -- trials -----------------------------------------------------------------------------------

    def append_trial(self, trial: Trial) -> None:
        """Append one trial record and force it to disk (a line a full disk cut short is dropped on reading)."""
        with self.writing("trials.jsonl"), open(self.path / "trials.jsonl", "a") as stream:
            stream.write(json.dumps(trial.to_dict()) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def trials(self) -> list[Trial]:
        """All recorded trials in index order (a torn last line, from a kill mid-write, is dropped)."""
        path = self.path / "trials.jsonl"
        if not path.exists():
            return []
        trials = []
        lines = read_text(path, "a trial log").splitlines()
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
        with self.writing("trials.jsonl"):
            atomic_write_text(self.path / "trials.jsonl", text)

    # -- binary state -----------------------------------------------------------------------------

    def _save(self, name: str, value: Any) -> None:
        with self.writing(name):
            atomic_write(self.path / name, lambda temporary: torch.save(value, temporary))

    def _load(self, name: str, advice: str) -> Any:
        """A saved file's contents (``None`` when absent); a truncated or foreign file is one line naming it,
        with ``advice``."""
        path = self.path / name
        if not path.exists():
            return None
        try:
            return torch.load(path, weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            reason = first if 0 < len(first) <= 80 else type(error).__name__
            raise NasdipError(f"{path}: damaged or not nasdip's ({reason}); {advice}") from None

    def save_problems(self, problems: dict[str, list[dict[str, Any]]]) -> None:
        """The degraded search images of each crop of the ladder."""
        self._save("problems.pt", problems)

    def load_problems(self) -> dict[str, list[dict[str, Any]]] | list[dict[str, Any]] | None:
        """What :meth:`save_problems` wrote (a plain list in runs written before fidelity ladders); ``None`` when
        it is missing or damaged: the problems are rebuilt from the recorded settings."""
        try:
            return self._load("problems.pt", "")
        except NasdipError:
            return None

    def save_state(self, state: dict[str, Any]) -> None:
        self._save("state.pt", state)

    def load_state(self) -> dict[str, Any] | None:
        return self._load("state.pt", REPLAY_ADVICE)

    def save_pending(self, pending: dict[str, Any]) -> None:
        self._save("pending.pt", pending)

    def load_pending(self) -> dict[str, Any] | None:
        return self._load("pending.pt", REPLAY_ADVICE)

    def clear_pending(self) -> None:
        (self.path / "pending.pt").unlink(missing_ok=True)

    # -- results ----------------------------------------------------------------------------------

    def save_baseline(self, baseline: Baseline, name: str = INPUT_BASELINE) -> None:
        with self.writing(name):
            atomic_write_text(self.path / name, json.dumps(baseline.to_dict(), indent=2) + "\n")

    def load_baseline(self, name: str = INPUT_BASELINE) -> Baseline | None:
        """A recorded baseline (``baseline.json``: the observation's; ``baseline_arch.json``: ``--baseline-arch``'s),
        or ``None`` (none recorded, or a file of another shape)."""
        path = self.path / name
        return Baseline.from_dict(read_json(path, "a search baseline")) if path.exists() else None

    def save_best(self, arch: Arch, output: torch.Tensor | None) -> None:
        with self.writing("best.json"):
            save_arch(arch, self.path / "best.json")
        if output is not None:
            with self.writing("best_restoration.png"):
                save_image(self.path / "best_restoration.png", output)
