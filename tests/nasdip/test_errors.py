"""User-facing errors: the hierarchy the CLI relies on, and the one-line wording of file-system errors."""

from __future__ import annotations

import errno

import pytest

from nasdip.errors import (
    USER_FILE_ERRNOS,
    ArchError,
    DuplicateNameError,
    NasdipError,
    UnknownArchError,
    UnknownNameError,
    UsageError,
    is_user_file_error,
    os_error_message,
)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (UsageError, (NasdipError,)),
        (UnknownNameError, (UsageError, NasdipError)),
        (DuplicateNameError, (NasdipError,)),
        (ArchError, (NasdipError,)),
        (UnknownArchError, (ArchError, UsageError, NasdipError)),
    ],
)
def test_every_error_is_a_nasdip_error(error, bases):
    assert all(issubclass(error, base) for base in bases)
    assert issubclass(NasdipError, Exception) and not issubclass(NasdipError, OSError)


@pytest.mark.parametrize(("error", "other"), [(DuplicateNameError, UsageError), (ArchError, UsageError),
                                              (UsageError, ArchError), (UnknownNameError, ArchError)])
def test_errors_outside_a_branch_are_not_in_it(error, other):
    assert not issubclass(error, other)


def test_an_unknown_arch_is_caught_as_either_parent():
    for parent in (ArchError, UsageError):
        with pytest.raises(parent, match=r"^unknown architecture 'x'$"):
            raise UnknownArchError("unknown architecture 'x'")


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (errno.EACCES, "check its permissions or choose another location"),
        (errno.EPERM, "check its permissions or choose another location"),
        (errno.EROFS, "the file system is read-only; choose another location"),
        (errno.ENOSPC, "the disk is full; free some space or choose another location"),
        (errno.EDQUOT, "the disk quota is exhausted; free some space or choose another location"),
        (errno.ENOTDIR, "a part of the path is a file, not a folder"),
        (errno.EISDIR, "it is a folder; give a file"),
        (errno.ENOENT, "check the path"),
        (errno.ENAMETOOLONG, "shorten the path"),
    ],
)
def test_os_error_lines_say_what_to_do(code, advice):
    error = OSError(code, "what went wrong", "/data/out.png")
    assert os_error_message(error) == f"/data/out.png: what went wrong ({advice})"


def test_os_error_lines_name_both_paths_of_a_move():
    moved = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert os_error_message(moved) == "/a -> /b: Invalid cross-device link"  # no advice for EXDEV
    denied = PermissionError(errno.EACCES, "Permission denied", "/a", None, "/b")
    assert os_error_message(denied) == "/a -> /b: Permission denied (check its permissions or choose another location)"


def test_os_error_lines_without_a_path_or_strerror():
    assert os_error_message(OSError(errno.ENOSPC, "No space left on device")) == (
        "No space left on device (the disk is full; free some space or choose another location)")
    assert os_error_message(OSError("the device went away")) == "the device went away"


def test_the_os_error_subclass_python_picks_keeps_the_wording():
    missing = OSError(errno.ENOENT, "No such file or directory", "/nowhere/a.png")
    assert isinstance(missing, FileNotFoundError)
    assert os_error_message(missing) == "/nowhere/a.png: No such file or directory (check the path)"


def test_a_real_file_system_error_is_worded(tmp_path):
    with pytest.raises(OSError) as caught:
        (tmp_path / "absent" / "file.txt").read_text()
    assert os_error_message(caught.value) == f"{tmp_path}/absent/file.txt: No such file or directory (check the path)"
    assert is_user_file_error(caught.value)


@pytest.mark.parametrize("code", sorted(USER_FILE_ERRNOS))
def test_user_file_errors_about_a_path(code):
    assert is_user_file_error(OSError(code, "something", "/x"))
    assert not is_user_file_error(OSError(code, "something"))  # no path: not about the user's files


def test_user_file_errnos_are_the_advised_ones_and_a_few_more():
    advised = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
               errno.ENOENT, errno.ENAMETOOLONG}
    assert set(USER_FILE_ERRNOS) == advised | {errno.EEXIST, errno.ELOOP, errno.EFBIG, errno.EIO}


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EBADF, "Bad file descriptor", "/x"), OSError(errno.ECONNRESET, "Connection reset", "/x"),
     OSError("no errno"), ValueError("x"), NasdipError("/x: no")],
)
def test_other_errors_are_not_user_file_errors(error):
    assert not is_user_file_error(error)
