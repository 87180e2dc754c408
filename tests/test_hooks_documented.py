"""Every hook is documented in the README and has a test named ``test_hook_<name>`` (as datasette does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from nasdip import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name for name, value in vars(hookspecs).items()
    if inspect.isfunction(value) and hasattr(value, "nasdip_spec")
)


def test_hook_list_is_complete():
    grouped = set(hookspecs.REGISTRATION_HOOKS) | set(hookspecs.LIFECYCLE_HOOKS) | {"register_commands"}
    assert set(HOOKS) == grouped


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_readme(hook):
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"`{hook}\(", readme), f"README.md does not document hook {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_and_types(hook):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and len(spec.__doc__.strip()) > 20
    assert all(p.annotation is not inspect.Parameter.empty for p in inspect.signature(spec).parameters.values())


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook):
    sources = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{hook}(" in sources, f"no test named test_hook_{hook}"
