"""Every hook is documented on the hook reference page with its exact arguments and has a test named
``test_hook_<name>`` (as datasette checks its hooks)."""

from __future__ import annotations

import inspect
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
def test_hook_is_documented_with_its_arguments(hook):
    """The page names the hook with exactly its arguments, in order: a renamed or added argument fails here."""
    page = (ROOT / "docs" / "plugins" / "hooks.md").read_text()
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"`{hook}({arguments})`" in page, f"docs/plugins/hooks.md does not document `{hook}({arguments})`"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_and_types(hook):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and len(spec.__doc__.strip()) > 20
    assert all(p.annotation is not inspect.Parameter.empty for p in inspect.signature(spec).parameters.values())


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook):
    sources = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{hook}(" in sources, f"no test named test_hook_{hook}"
