"""User-facing errors: each carries one line saying what was wrong and what to do; and the one-line wording of
file-system errors that are about the user's files or machine."""

from __future__ import annotations

import errno


class NasdipError(Exception):
    """A mistake in user input or configuration; the CLI prints it as one line, no traceback."""


class UsageError(NasdipError):
    """A bad name or option on the command line (the CLI exits with code 2)."""


class UnknownNameError(UsageError):
    """A registry look-up for a name nobody registered."""


class DuplicateNameError(NasdipError):
    """Two plugins registered the same name."""


class ArchError(NasdipError):
    """An invalid architecture document or choice."""


class UnknownArchError(ArchError, UsageError):
    """``--arch`` names neither a preset nor an existing file (a mistyped name: the CLI exits with code 2)."""


#: What to do about common file-system errors, by errno (completes ``strerror``).
_ADVICE: dict[int, str] = {
    errno.EACCES: "check its permissions or choose another location",
    errno.EPERM: "check its permissions or choose another location",
    errno.EROFS: "the file system is read-only; choose another location",
    errno.ENOSPC: "the disk is full; free some space or choose another location",
    errno.EDQUOT: "the disk quota is exhausted; free some space or choose another location",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder; give a file",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "shorten the path",
}


#: File-system errors that come from the user's paths or machine, not from a bug (the CLI prints them in one line).
USER_FILE_ERRNOS: frozenset[int] = frozenset(_ADVICE) | {errno.EEXIST, errno.ELOOP, errno.EFBIG, errno.EIO}


def is_user_file_error(error: BaseException) -> bool:
    """Whether ``error`` is a file-system error about a named path that the user can act on."""
    return isinstance(error, OSError) and error.filename is not None and error.errno in USER_FILE_ERRNOS


def os_error_message(error: OSError) -> str:
    """One line for a file-system error: the path, what went wrong and what to do."""
    reason = error.strerror or str(error)
    advice = _ADVICE.get(error.errno or 0)
    where = f"{error.filename}" if error.filename is not None else ""
    if error.filename2 is not None:
        where += f" -> {error.filename2}"
    line = f"{where}: {reason}" if where else reason
    return f"{line} ({advice})" if advice else line
