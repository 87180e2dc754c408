"""Architecture documents: JSON round trips, stable hashes, structural errors naming the field."""

from __future__ import annotations

import json

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
