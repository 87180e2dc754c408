"""Files: atomic writes honour the umask, writability checks create nothing, rescues, strict JSON, error lines."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from nasdip.errors import NasdipError
from nasdip.io import files
from nasdip.io.files import (
    atomic_write_or_rescue,
    atomic_write_text,
    check_writable_dir,
    check_writable_file,
    current_umask,
    read_json,
)

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process umask for one test; the original is restored afterwards."""
    original = os.umask(0o022)
    os.umask(original)
    yield os.umask
    os.umask(original)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_get_the_umask_not_0600(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    atomic_write_text(tmp_path / "new.txt", "x")
    assert mode(tmp_path / "new.txt") == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["new.txt"]  # no temporary file left


def test_a_replaced_file_keeps_its_permissions(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "kept.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o640


def test_writable_dir_check_creates_nothing(tmp_path):
    check_writable_dir(tmp_path, "--out")
    check_writable_dir(tmp_path / "a" / "b", "--out")
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_is_refused_in_one_line(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"x")
    with pytest.raises(NasdipError) as caught:
        check_writable_dir(tmp_path / "photo.png" / "out", "--out")
    assert str(caught.value) == (f"--out {tmp_path}/photo.png/out: cannot be used as a folder ({tmp_path}/photo.png "
                                 f"is a file); choose another --out")
    with pytest.raises(NasdipError, match=r"photo\.png: cannot be used as a folder \(.*photo\.png is a file\)"):
        check_writable_dir(tmp_path / "photo.png", "--out")
    with pytest.raises(NasdipError, match=r"^--plot .*: is a folder; give a file name$"):
        check_writable_file(tmp_path, "--plot")
    with pytest.raises(NasdipError) as caught:
        check_writable_file(tmp_path / "photo.png" / "curves.png", "--plot")
    assert str(caught.value) == (f"--plot {tmp_path}/photo.png/curves.png: cannot be written ({tmp_path}/photo.png "
                                 f"is a file); choose another --plot")
    check_writable_file(tmp_path / "curves.png", "--plot")
    check_writable_file(tmp_path / "photo.png", "--plot")  # an existing file is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_directory_that_refuses_files_is_refused(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(NasdipError) as caught:
        check_writable_dir(tmp_path / "out", "--out")
    assert str(caught.value) == (f"--out {tmp_path}/out: cannot be used as a folder (cannot write in {tmp_path}: "
                                 f"Permission denied); choose another --out")


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(NasdipError, match=r"cannot write in .*locked: Permission denied\)"):
            check_writable_dir(locked / "out", "--out")
    finally:
        locked.chmod(0o700)


def test_rescue_dir_is_one_fresh_private_folder_per_process(monkeypatch):
    monkeypatch.setattr(files, "_rescue_dir", None)
    first = files.rescue_dir()
    try:
        assert first.is_dir() and first.name.startswith("nasdip-rescued-") and files.rescue_dir() == first
        assert list(first.iterdir()) == []
    finally:
        first.rmdir()


def test_an_unwritable_destination_is_rescued_and_said(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(files, "_rescue_dir", tmp_path / "rescued")
    (tmp_path / "file").write_text("in the way")
    wanted = tmp_path / "file" / "result.txt"
    saved = atomic_write_or_rescue(wanted, lambda temporary: temporary.write_text("the result"))
    assert saved == tmp_path / "rescued" / "result.txt" and saved.read_text() == "the result"
    assert capsys.readouterr().err == f"nasdip: cannot write {wanted} (Not a directory); saved it to {saved} instead\n"


def test_a_failed_rescue_raises_the_original_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("in the way")
    monkeypatch.setattr(files, "_rescue_dir", tmp_path / "file" / "rescued")
    with pytest.raises(NotADirectoryError) as caught:
        atomic_write_or_rescue(tmp_path / "file" / "out" / "result.txt", lambda temporary: temporary.write_text("x"))
    assert caught.value.filename == str(tmp_path / "file" / "out")


def test_read_json_errors_name_the_file(tmp_path):
    (tmp_path / "good.json").write_text('{"a": [1, 2]}')
    assert read_json(tmp_path / "good.json", "a config") == {"a": [1, 2]}
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "broken.json").write_text('{"a": ')
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    cases = {
        "binary.json": "binary.json: not a text file (expected a config, UTF-8)",
        "broken.json": "broken.json: not valid JSON (line 1: Expecting value); expected a config",
        "deep.json": "deep.json: JSON nested too deeply; expected a config",
        "missing.json": "missing.json: cannot read a config (No such file or directory)",
    }
    for name, message in cases.items():
        with pytest.raises(NasdipError) as caught:
            read_json(tmp_path / name, "a config")
        assert str(caught.value) == f"{tmp_path}/{message}"
    with pytest.raises(NasdipError, match=r": cannot read a config \(Is a directory\)$"):
        read_json(tmp_path, "a config")
