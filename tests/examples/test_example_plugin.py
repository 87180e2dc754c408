"""The example third-party package: pip-installed, discovered, listed, usable, filtered by NASDIP_LOAD_PLUGINS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nasdip-example"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> dict[str, str]:
    """pip-install the example into a private target directory; return the environment that sees it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-qq", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    env.pop("NASDIP_LOAD_PLUGINS", None)
    return env


def nasdip(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from nasdip.cli import main; main()", *args],
                          env=env, capture_output=True, text=True)


def test_example_is_listed(installed_example):
    result = nasdip(installed_example, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    example = rows["example"]
    assert (example["package"], example["version"], example["builtin"]) == ("nasdip-example", "0.1.0", False)
    assert example["searchers"] == ["hill-climb"]
    assert example["commands"] == ["sample"]


def test_example_command_and_searcher_work(installed_example):
    result = nasdip(installed_example, "sample", "--space", "upsample-cell", "-n", "2", "--seed", "3")
    assert result.returncode == 0, result.stderr
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(documents) == 2 and all(doc["space"] == "upsample-cell" for doc in documents)
    script = (
        "from nasdip import registry\n"
        "space = registry.get('spaces', 'upsample-cell')\n"
        "cls = registry.get('searchers', 'hill-climb')\n"
        "s = cls(space, seed=1)\n"
        "a = s.ask(); s.tell(a, 1.0); b = s.ask()\n"
        "changed = sum(a.choices[k] != b.choices[k] for k in a.choices)\n"
        "print(changed)\n"
    )
    probe = subprocess.run([sys.executable, "-c", script], env=installed_example, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout) >= 1  # a mutation of the best arch


def test_load_plugins_env_hides_the_example(installed_example):
    env = {**installed_example, "NASDIP_LOAD_PLUGINS": ""}
    result = nasdip(env, "plugins", "--json")
    assert "example" not in {row["name"] for row in json.loads(result.stdout)}
    assert nasdip(env, "sample").returncode == 2
    env["NASDIP_LOAD_PLUGINS"] = "example"
    assert "example" in {row["name"] for row in json.loads(nasdip(env, "plugins", "--json").stdout)}
