"""Architecture documents: JSON round trips, stable hashes, structural errors naming the field."""

from __future__ import annotations

import json
import os

import pytest

from nasdip.arch.catalog import presets, resolve_arch
from nasdip.arch.document import Arch, read_arch_file, save_arch
from nasdip.errors import ArchError


def test_round_trip_through_a_file(tmp_path):
    arch = presets()["nasdip-denoise"]
    path = save_arch(arch, tmp_path / "a.json")
    loaded = resolve_arch(str(path))
    assert loaded == arch and loaded.name == "nasdip-denoise" and dict(loaded.meta) == dict(arch.meta)
    assert json.loads(path.read_text())["format"] == "nasdip-arch"


def test_digest_is_stable():
    # Pinned: a change here breaks de-duplication of existing run directories.
    assert presets()["nasdip-sr"].digest == "c48b0b95d3f4"


def test_meta_and_name_do_not_change_identity():
    arch = presets()["nasdip-sr"]
    other = arch.replace(name="x", meta={"reward": 1.0})
    assert other == arch and hash(other) == hash(arch) and other.digest == arch.digest


def document(**changes):
    base = {"format": "nasdip-arch", "version": 1, "space": "dip", "choices": {}}
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], r"^a\.json: an architecture document must be a JSON object$"),
        (document(format="other"), r"^a\.json\.format: expected 'nasdip-arch'"),
        (document(version=2), r"^a\.json\.version: 2 is newer than this nasdip reads \(1\); upgrade nasdip$"),
        (document(version="1"), r"^a\.json\.version: expected an integer"),
        (document(space=""), r"^a\.json\.space: expected a space name"),
        (document(choices=[]), r"^a\.json\.choices: expected an object"),
        (document(choices={"k": 1.5}), r"^a\.json\.choices\.k: expected a string or an integer, got 1\.5$"),
        (document(extra=1), r"^a\.json\.extra: unknown field"),
        (document(space="nope"), r"^a\.json\.space: unknown search space 'nope'; available: "),
    ],
)
def test_invalid_documents_fail_naming_the_field(tmp_path, doc, message):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ArchError, match=message):
        resolve_arch(str(path))


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ArchError, match=r"missing\.json: no such architecture file$"):
        resolve_arch(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ArchError, match=r"^.*bad\.json: not valid JSON \(line 1"):
        read_arch_file(bad)


def test_from_dict_keeps_meta():
    arch = Arch.from_dict(document(meta={"found_by": "rl"}))
    assert arch.meta == {"found_by": "rl"}


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from nasdip.arch import document

    arch = presets()["dip-skip"]
    text = document.dumps(arch)
    path = tmp_path / "padded.json"
    path.write_text(text + " " * (document.MAX_DOCUMENT_BYTES - len(text)))  # exactly the limit: a document
    assert read_arch_file(path) == arch
    path.write_text(text + " " * (document.MAX_DOCUMENT_BYTES - len(text) + 1))
    with pytest.raises(ArchError, match=r"^.*padded\.json: larger than 1 MiB, so not an architecture document \(those "
                                        r"are a few kB of JSON\); check the path$"):
        read_arch_file(path)
    read = []
    original = document.Path.open

    def counting(self, *args, **kwargs):
        handle = original(self, *args, **kwargs)
        real_read = handle.read
        handle.read = lambda size=-1: read.append(size) or real_read(size)
        return handle

    monkeypatch.setattr(document.Path, "open", counting)
    with pytest.raises(ArchError):
        read_arch_file(path)
    assert read == [document.MAX_DOCUMENT_BYTES + 1]  # one bounded read, never the whole file


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_an_endless_file_is_refused():
    with pytest.raises(ArchError, match=r"^/dev/zero: larger than 1 MiB"):
        resolve_arch("/dev/zero")
