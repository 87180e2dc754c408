"""User-facing errors: each carries one line saying what was wrong and what to do."""

from __future__ import annotations


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
