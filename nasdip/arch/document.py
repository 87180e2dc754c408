"""Architecture documents: a versioned JSON naming a search space and the choice taken for each decision.

Example::

    {"format": "nasdip-arch", "version": 1, "space": "nasdip", "name": "nasdip-sr",
     "choices": {"spatial": "bicubic", "order": "spatial_first", "transform": "depthwise_conv", ...},
     "meta": {"found_by": "rl", "reward": 28.1}}

``meta`` is free-form provenance; it takes no part in equality or the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasdip.errors import ArchError
from nasdip.io.files import atomic_write_text

Choice = str | int

FORMAT = "nasdip-arch"
VERSION = 1
#: Largest architecture document nasdip reads: real ones are a few kB; a larger file (or an endless one, such as
#: /dev/zero) is not an architecture document and is refused before it is read to its end.
MAX_DOCUMENT_BYTES = 1 << 20
_TOP_LEVEL = {"format", "version", "space", "name", "choices", "meta"}


@dataclass(frozen=True)
class Arch:
    """One point of a search space. Use :meth:`nasdip.arch.space.Space.validate` to check and canonicalise it."""

    space: str
    choices: Mapping[str, Choice]
    name: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arch) and self.key == other.key

    @property
    def key(self) -> str:
        """Canonical JSON of space and choices: equal architectures have equal keys."""
        return json.dumps({"space": self.space, "choices": dict(self.choices)}, sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        """Stable short hash of :attr:`key`, for file names and de-duplication."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        """The name when it has one, else ``space:digest``."""
        return self.name or f"{self.space}:{self.digest}"

    def replace(self, **changes: Any) -> Arch:
        """A copy with ``name`` or ``meta`` (or other fields) replaced."""
        values = {"space": self.space, "choices": self.choices, "name": self.name, "meta": self.meta}
        values.update(changes)
        return Arch(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "space": self.space}
        if self.name:
            document["name"] = self.name
        document["choices"] = dict(self.choices)
        if self.meta:
            document["meta"] = dict(self.meta)
        return document

    @classmethod
    def from_dict(cls, document: Any, source: str = "arch") -> Arch:
        """Parse a JSON document, checking its structure (not yet its space: see ``Space.validate``)."""
        if not isinstance(document, Mapping):
            raise ArchError(f"{source}: an architecture document must be a JSON object")
        if document.get("format") != FORMAT:
            raise ArchError(f"{source}.format: expected {FORMAT!r}, got {document.get('format')!r}")
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ArchError(f"{source}.version: expected an integer, got {version!r}")
        if version > VERSION:
            raise ArchError(f"{source}.version: {version} is newer than this nasdip reads ({VERSION}); upgrade nasdip")
        if version < 1:
            raise ArchError(f"{source}.version: {version} is not a valid version")
        extra = sorted(set(document) - _TOP_LEVEL)
        if extra:
            raise ArchError(f"{source}.{extra[0]}: unknown field (fields: {', '.join(sorted(_TOP_LEVEL))})")
        space = document.get("space")
        if not isinstance(space, str) or not space:
            raise ArchError(f"{source}.space: expected a space name, got {space!r}")
        name = document.get("name")
        if name is not None and not isinstance(name, str):
            raise ArchError(f"{source}.name: expected a string, got {name!r}")
        choices = document.get("choices")
        if not isinstance(choices, Mapping):
            raise ArchError(f"{source}.choices: expected an object mapping decisions to choices")
        for key, value in choices.items():
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise ArchError(f"{source}.choices.{key}: expected a string or an integer, got {value!r}")
        meta = document.get("meta", {})
        if not isinstance(meta, Mapping):
            raise ArchError(f"{source}.meta: expected an object")
        return cls(space, dict(choices), name=name, meta=dict(meta))


def dumps(arch: Arch) -> str:
    """The document as indented JSON text."""
    return json.dumps(arch.to_dict(), indent=2) + "\n"


def save_arch(arch: Arch, path: str | os.PathLike) -> Path:
    """Write ``arch`` atomically (a crash never leaves a half-written document)."""
    return atomic_write_text(Path(path), dumps(arch))


def read_limited(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of ``path``, reading at most ``limit + 1`` of them; a larger (or endless) file is an
    :class:`ArchError`."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ArchError(f"{path}: larger than {limit / 2**20:g} MiB, so not an architecture document (those are a "
                        f"few kB of JSON); check the path")
    return data


def read_arch_file(path: str | os.PathLike) -> Arch:
    """Parse a document from disk (structure only); unreadable, binary, non-JSON and oversized files (over
    :data:`MAX_DOCUMENT_BYTES`) raise one line."""
    path = Path(path)
    try:
        text = read_limited(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ArchError(f"{path}: not an architecture file (binary, not UTF-8 JSON text)") from None
    except OSError as error:
        raise ArchError(f"{path}: cannot read architecture file ({error.strerror or error})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ArchError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})") from None
    except RecursionError:
        raise ArchError(f"{path}: not an architecture document (JSON nested too deeply)") from None
    return Arch.from_dict(document, source=path.name)
