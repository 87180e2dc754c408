"""Named architectures (presets of every registered space) and ``--arch NAME|FILE`` resolution."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from nasdip import registry
from nasdip.arch.document import Arch, read_arch_file
from nasdip.arch.space import Space
from nasdip.errors import ArchError, DuplicateNameError, UnknownArchError, UnknownNameError


def presets() -> dict[str, Arch]:
    """Every preset of every registered space, by name."""
    found: dict[str, Arch] = {}
    for space in registry.entries("spaces").values():
        for arch in space.obj.presets():
            if arch.name in found:
                raise DuplicateNameError(f"preset {arch.name!r} is defined by spaces {found[arch.name].space!r} and {arch.space!r}")
            found[arch.name] = arch
    return dict(sorted(found.items()))


def space_of(arch: Arch, source: str = "arch") -> Space:
    """The registered space an architecture names."""
    try:
        return registry.get("spaces", arch.space)
    except UnknownNameError as error:
        raise ArchError(f"{source}.space: {error}") from None


def validate(arch: Arch, source: str = "arch") -> Arch:
    """Check ``arch`` against its space; return the canonical form."""
    return space_of(arch, source).validate(arch, source)


def resolve_arch(spec: str | Path) -> Arch:
    """A preset name or the path of an architecture document -> validated architecture."""
    spec = str(spec)
    named = presets()
    if spec in named:
        return named[spec]
    path = Path(spec)
    if spec.strip() and path.exists():
        if path.is_dir():
            raise ArchError(f"{spec}: is a folder, not an architecture file")
        arch = read_arch_file(path)
        return validate(arch, source=path.name)
    if looks_like_path(spec):
        raise ArchError(f"{spec}: no such architecture file")
    close = difflib.get_close_matches(spec, named, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownArchError(f"unknown architecture {spec!r}: no preset or file of that name; {hint}"
                           f"presets: {', '.join(named)} (or an architecture JSON file)")


def looks_like_path(spec: str) -> bool:
    """Whether ``spec`` is meant as a file (has a folder or a ``.json`` suffix) rather than a preset name."""
    return "/" in spec or os.sep in spec or spec.lower().endswith(".json")
