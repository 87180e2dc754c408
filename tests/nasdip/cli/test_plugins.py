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


class Random(Searcher):
    name = "random"  # the built-in searcher's name

    def ask(self):
        return self.space.sample(self.rng)

    def tell(self, arch, reward):
        pass


class Troubled:
    """Registers junk as a task, a second 'random' searcher, and a space hook that raises."""

    @hookimpl
    def register_tasks(self, register):
        register(42)

    @hookimpl
    def register_searchers(self, register):
        register(Random)

    @hookimpl
    def register_spaces(self, register):
        raise RuntimeError("space table missing")


def test_invalid_duplicate_and_failed_registrations_are_marked(runner, register_plugin, recwarn):
    register_plugin(Troubled(), "troubled")
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    troubled, builtin = rows["troubled"], rows["nasdip.searchers"]
    assert troubled["tasks"] == [] and troubled["searchers"] == [] and troubled["spaces"] == []
    assert troubled["problems"] == [
        {"kind": "spaces", "problem": "failed", "registered": "register_spaces",
         "detail": "register_spaces raised RuntimeError: space table missing; its spaces are skipped"},
        {"kind": "searchers", "problem": "duplicate", "registered": "random",
         "detail": "the searcher name is also registered by 'nasdip.searchers'; commands refuse it until one of them "
                   "is uninstalled"},
        {"kind": "tasks", "problem": "invalid", "registered": "42",
         "detail": "not a valid task, skipped: expected a subclass of nasdip.Task, got 42"},
    ]
    assert "random" not in builtin["searchers"] and builtin["problems"][0]["problem"] == "duplicate"
    assert rows["nasdip.tasks"]["problems"] == [] and rows["nasdip.tasks"]["tasks"][0] == "sr"
    table = runner.invoke(cli, ["plugins"]).output
    block = table[table.index("troubled") :]
    assert re.search(r"\n    INVALID:\s+42: not a valid task, skipped: expected a subclass of nasdip\.Task, got 42\n",
                     block)
    assert re.search(r"\n    DUPLICATE:\s+random: the searcher name is also registered by 'nasdip\.searchers'", block)
    assert re.search(r"\n    FAILED:\s+register_spaces raised RuntimeError: space table missing", block)
    assert re.search(r"searchers:\s+evolution, rl, darts\n    DUPLICATE:\s+random: .* by 'troubled'", table)
    # What the table flags, a command refuses:
    search = runner.invoke(cli, ["search", "--searcher", "random", "--task", "denoise"])
    assert search.exit_code == 1 and "searcher 'random' is registered by two plugins" in search.output


def test_a_plugin_with_no_problems_has_an_empty_list(runner):
    rows = json.loads(runner.invoke(cli, ["plugins", "--json"]).output)
    assert all(row["problems"] == [] for row in rows if row["builtin"])
