"""The code's layout holds: a small kernel at the package root, stages that import only the stages above them, an
engine that reports only through what it is handed, tests that mirror the tree, plugins on the public API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nasdip

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "nasdip"
#: The package root: the plugin kernel, the leaves every layer imports, the public API.
KERNEL = {"__init__", "errors", "hookspecs", "options", "plugin_manager", "registry", "rng", "runinfo"}
#: The stages in the order data flows through them; each may import only the root and the stages before it.
STAGES = ("io", "nn", "ops", "arch", "fit", "search", "report", "cli")
#: Stages that share a level (neither imports the other).
PEERS = {frozenset({"nn", "ops"})}


def runtime_imports(path: Path) -> set[str]:
    """The ``nasdip...`` modules a file imports when it runs (``TYPE_CHECKING`` blocks left out)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(sub) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for sub in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nasdip":
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "nasdip")
    return found


def stage_of(module: str) -> str | None:
    """The stage a ``nasdip.<stage>...`` module belongs to (``None`` for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_package_root_holds_only_the_kernel():
    assert {path.stem for path in CORE.glob("*.py")} == KERNEL
    assert {path.name for path in CORE.iterdir() if path.is_dir() and path.name != "__pycache__"} == set(STAGES)


def test_every_package_of_the_core_is_installed():
    """``setup.cfg`` lists each folder of the core (a missing one is left out of wheels), each with an
    ``__init__.py``."""
    config = (ROOT / "setup.cfg").read_text()
    listed = set(config.split("packages =", 1)[1].split("package_dir", 1)[0].split())
    folders = {"nasdip"} | {f"nasdip.{stage}" for stage in STAGES}
    assert folders <= listed
    assert all((CORE / stage / "__init__.py").exists() for stage in STAGES)


@pytest.mark.parametrize("path", core_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_stage_imports_only_the_stages_above_it(path):
    own = stage_of("nasdip." + ".".join(path.relative_to(CORE).with_suffix("").parts))
    if own is None:
        return
    for module in runtime_imports(path):
        other = stage_of(module)
        if other is None or other == own:
            continue
        assert frozenset({own, other}) not in PEERS, f"{path.name} ({own}) imports its peer {module}"
        assert STAGES.index(other) < STAGES.index(own), f"{path.name} ({own}) imports {module} from a later stage"


def test_only_the_kernel_and_the_commands_call_the_plugin_manager():
    callers = {str(path.relative_to(ROOT)) for path in core_files()
               if any(module.startswith("nasdip.plugin_manager") for module in runtime_imports(path))}
    assert callers <= {"nasdip/runinfo.py", "nasdip/registry.py", "nasdip/cli/__init__.py", "nasdip/cli/plugins.py"}


def test_every_core_module_has_a_test_module_of_its_name():
    missing = []
    for path in core_files():
        if path.name == "__init__.py" and path.parent != CORE:
            continue
        relative = path.relative_to(CORE)
        name = "test_init.py" if path.name == "__init__.py" else f"test_{path.name}"
        expected = ROOT / "tests" / "nasdip" / relative.parent / name
        if not expected.exists():
            missing.append(str(expected.relative_to(ROOT)))
    assert not missing, f"core modules without a test module: {missing}"


def test_the_example_plugin_uses_only_the_public_api():
    package = ROOT / "examples" / "nasdip-example" / "nasdip_example"
    for path in sorted(package.glob("*.py")):
        imported = {module for module in runtime_imports(path) if module != "nasdip"}
        assert all(module.count(".") == 1 and module.split(".")[1] in nasdip.__all__ for module in imported), path
