"""``nasdip plugins``: the table and the JSON listing."""

from __future__ import annotations

import json
import re

from nasdip import __version__, hookimpl
from nasdip.cli import cli
from nasdip.search.searcher import Searcher


def test_plugins_json_lists_builtins(runner):
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    plugins = rows["nasdip.plugins"]
    assert plugins["package"] == "nasdip" and plugins["version"] == __version__ and plugins["builtin"]
    assert set(plugins["spaces"]) == {"upsample-cell", "cross-scale", "nasdip", "dip"}
    assert set(plugins["executors"]) == {"serial", "streams", "process", "ray"}
    assert rows["nasdip.searchers"]["searchers"] == ["random", "evolution", "rl", "darts"]
    assert rows["nasdip.tasks"]["tasks"] == ["sr", "denoise", "inpaint", "dehaze"]
    assert rows["nasdip.tasks"]["commands"] == ["translate"]
    assert rows["nasdip.plugins.tensorboard"]["builtin"] and "fit_progress" in rows["nasdip.plugins.tensorboard"]["hooks"]


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
