"""Files: atomic writes (a kill at any moment leaves the old file or the new one, never half of one) that honour
the umask, checks that an output location is writable before long work starts, a rescue place for results whose
destination fails, and strict reading of text and JSON files."""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasdip.errors import NasdipError

_UMASK_LOCK = threading.Lock()
_rescue_dir: Path | None = None

def current_umask() -> int:
    """The process's file-mode creation mask (read without changing it where the system allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it: restore it at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _final_mode(path: Path) -> int:
    """Permissions for a file written at ``path``: the replaced file's, else ``0o666`` less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` then rename the temporary file over ``path``.

    The file gets the permissions of the file it replaces, or those the umask gives a new file (the temporary
    file's private ``0600`` never shows).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where a folder of the path belongs: say so, not "File exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent)) from None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, _final_mode(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, flushed to disk before the rename)."""

    def write(temporary: Path) -> None:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())

    return atomic_write(path, write)


def _unwritable_reason(directory: Path) -> str | None:
    """Why ``directory`` cannot be created or written (``None`` when it can), creating nothing lasting."""
    existing = directory
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file"
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".nasdip-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        return f"cannot write in {existing}: {error.strerror or error}"
    return None


def check_writable_dir(path: str | os.PathLike, what: str) -> None:
    """Refuse, in one line, an output folder that cannot be created or written; create nothing.

    ``what`` names the option in the message (``--out``). The nearest existing ancestor must be a folder in
    which a file can be created (tested by creating and removing one: permission bits alone mislead, e.g. on
    read-only file systems or for root).
    """
    path = Path(path)
    reason = _unwritable_reason(path)
    if reason is not None:
        raise NasdipError(f"{what} {path}: cannot be used as a folder ({reason}); choose another {what}")


def check_writable_file(path: str | os.PathLike, what: str) -> None:
    """Refuse, in one line, an output file that cannot be written (a folder in its place, an unwritable folder)."""
    path = Path(path)
    if path.is_dir():
        raise NasdipError(f"{what} {path}: is a folder; give a file name")
    reason = _unwritable_reason(path.parent)
    if reason is not None:
        raise NasdipError(f"{what} {path}: cannot be written ({reason}); choose another {what}")


def rescue_dir() -> Path:
    """A fresh folder (one per process, in the system's temporary directory) for results whose place failed."""
    global _rescue_dir
    if _rescue_dir is None:
        _rescue_dir = Path(tempfile.mkdtemp(prefix="nasdip-rescued-"))
    return _rescue_dir


def atomic_write_or_rescue(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """:func:`atomic_write`, or, when ``path`` cannot be written, the same file in :func:`rescue_dir`.

    A rescue is reported on stderr in one line naming both places; the path actually written is returned.
    The original error is raised when the rescue fails too.
    """
    path = Path(path)
    try:
        return atomic_write(path, write)
    except OSError as error:
        try:
            saved = atomic_write(rescue_dir() / path.name, write)
        except OSError:
            raise error from None
        print(f"nasdip: cannot write {path} ({error.strerror or error}); saved it to {saved} instead",
              file=sys.stderr)
        return saved


def read_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of a file; unreadable or non-text files raise one line naming ``what`` it should be."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NasdipError(f"{path}: not a text file (expected {what}, UTF-8)") from None
    except OSError as error:
        raise NasdipError(f"{path}: cannot read {what} ({error.strerror or error})") from None


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The JSON document in a file; unreadable, non-UTF-8 or invalid JSON raises one line naming the place."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise NasdipError(f"{path}: not valid JSON (line {error.lineno}: {error.msg}); expected {what}") from None
    except RecursionError:
        raise NasdipError(f"{path}: JSON nested too deeply; expected {what}") from None
