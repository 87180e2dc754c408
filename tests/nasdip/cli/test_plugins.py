"""``nasdip plugins``: the table and the JSON listing."""

from __future__ import annotations

import json
import re

from nasdip import __version__, hookimpl
from nasdip.cli import cli
from nasdip.searcher import Searcher


def test_plugins_json_lists_builtins(runner):
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    spaces = rows["nasdip.plugins.spaces"]
    assert spaces["package"] == "nasdip" and spaces["version"] == __version__ and spaces["builtin"]
    assert set(spaces["spaces"]) == {"upsample-cell", "cross-scale", "nasdip", "dip"}
    assert rows["nasdip.searchers.random"]["searchers"] == ["random"]


def test_plugins_table_shows_a_runtime_plugin(runner, register_plugin):
    class Lazy(Searcher):
        name = "lazy"

        def ask(self):
            return self.space.sample(self.rng)

        def tell(self, arch, reward):
            pass

    class LazyPlugin:
        @hookimpl
        def register_searchers(self, register):
            register(Lazy)

        @hookimpl
        def run_finished(self, run):
            pass

    register_plugin(LazyPlugin(), "lazy-plugin")
    result = runner.invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    block = result.output[result.output.index("lazy-plugin") :]
    assert re.search(r"searchers:\s+lazy\n", block)
    assert re.search(r"hooks:\s+run_finished\n", block)
