"""Entry-point discovery: broken plugins warn, NASDIP_LOAD_PLUGINS filters, lifecycle calls are isolated."""

from __future__ import annotations

import textwrap
import warnings

import pytest

from nasdip import hookimpl, plugin_manager, registry
from nasdip.plugin_manager import get_plugin_manager, notify


def make_distribution(root, dist_name: str, entry_name: str, module: str, source: str) -> None:
    """A minimal installed distribution (dist-info with an entry point in group ``nasdip``) under ``root``."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist_name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[nasdip]\n{entry_name} = {module}\n")


GOOD_PLUGIN = """
    import nasdip
    from nasdip.search.searcher import Searcher

    class Walker(Searcher):
        name = "walker"
        def ask(self):
            return self.space.sample(self.rng)
        def tell(self, arch, reward):
            pass

    @nasdip.hookimpl
    def register_searchers(register):
        register(Walker)
"""


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch, fresh_plugin_manager):
    make_distribution(tmp_path, "nasdip-walker", "walker", "walker_plugin", GOOD_PLUGIN)
    make_distribution(tmp_path, "nasdip-broken", "broken", "broken_plugin", "raise ImportError('no such thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugin_manager.LOAD_PLUGINS_ENV, raising=False)


def test_broken_plugin_warns_and_the_rest_work(fake_plugins):
    with pytest.warns(RuntimeWarning, match=r"plugin 'broken' from nasdip-broken failed to load.*no such thing"):
        get_plugin_manager()
    assert "walker" in registry.names("searchers")
    assert "random" in registry.names("searchers")
    source = plugin_manager.plugin_source("walker")
    assert (source.package, source.version, source.builtin) == ("nasdip-walker", "1.2.3", False)


def test_load_plugins_env_restricts_external_plugins(fake_plugins, monkeypatch):
    monkeypatch.setenv(plugin_manager.LOAD_PLUGINS_ENV, "nasdip-walker")
    get_plugin_manager()  # no warning: the broken plugin is not even imported
    assert "walker" in registry.names("searchers")
    assert not get_plugin_manager().has_plugin("broken")


def test_empty_load_plugins_env_loads_only_builtins(fake_plugins, monkeypatch):
    monkeypatch.setenv(plugin_manager.LOAD_PLUGINS_ENV, "")
    assert "walker" not in registry.names("searchers")
    assert "random" in registry.names("searchers")


def test_failing_lifecycle_hook_is_reported_not_raised(register_plugin, capsys):
    calls = []

    class Broken:
        @hookimpl
        def run_finished(self, run):
            raise RuntimeError("disk full")

    class Fine:
        @hookimpl
        def run_finished(self, run):
            calls.append(run)

    register_plugin(Broken(), "broken-logger")
    register_plugin(Fine(), "fine-logger")
    notify("run_finished", run="the-run")
    assert calls == ["the-run"]
    assert "plugin 'broken-logger' failed in run_finished: RuntimeError: disk full" in capsys.readouterr().err


RAISING_PLUGIN = """
    import nasdip

    @nasdip.hookimpl
    def register_searchers(register):
        raise RuntimeError("searcher table missing")

    @nasdip.hookimpl
    def register_commands(cli):
        raise RuntimeError("command table missing")
"""

NOT_A_CLASS_PLUGIN = """
    import nasdip

    @nasdip.hookimpl
    def register_searchers(register):
        register(lambda space: None)

    @nasdip.hookimpl
    def register_tasks(register):
        register("denoise")
"""

MISSPELT_PLUGIN = """
    import nasdip
    from nasdip.search.searcher import Searcher

    class Typo(Searcher):
        name = "typo"
        def ask(self):
            return self.space.sample(self.rng)
        def tell(self, arch, reward):
            pass

    @nasdip.hookimpl
    def register_searcher(register):
        register(Typo)
"""

OPTIONAL_HOOK_PLUGIN = """
    import nasdip

    @nasdip.hookimpl(optionalhook=True)
    def from_a_newer_nasdip(run):
        pass
"""


@pytest.fixture
def plugin_distributions(tmp_path, monkeypatch, fresh_plugin_manager):
    """``install(name, source)``: an installed distribution ``nasdip-<name>`` with entry point ``<name>``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugin_manager.LOAD_PLUGINS_ENV, raising=False)

    def install(name: str, source: str) -> None:
        make_distribution(tmp_path, f"nasdip-{name}", name, f"{name}_plugin", source)

    return install


def test_a_raising_register_hook_skips_that_plugin_not_the_command(plugin_distributions, runner):
    from nasdip.cli import cli

    plugin_distributions("raiser", RAISING_PLUGIN)
    fresh = type(cli)(name="nasdip", commands={})  # loads plugin commands anew
    with pytest.warns(RuntimeWarning) as caught:
        result = runner.invoke(fresh, ["search", "--help"])
        listing = runner.invoke(fresh, ["--help"])
    assert result.exit_code == 0, result.output
    assert "random" in result.output and listing.exit_code == 0
    messages = {str(warning.message) for warning in caught}
    assert ("nasdip: plugin 'raiser' failed in register_searchers and its searchers are skipped: RuntimeError: "
            "searcher table missing") in messages
    assert ("nasdip: plugin 'raiser' failed in register_commands and its commands are skipped: RuntimeError: "
            "command table missing") in messages


def test_registering_something_that_is_not_a_class_is_skipped(plugin_distributions, runner):
    from nasdip.cli import cli

    plugin_distributions("oddity", NOT_A_CLASS_PLUGIN)
    with pytest.warns(RuntimeWarning) as caught:
        result = runner.invoke(cli, ["search", "--searcher", "rnd", "--task", "sr"])
    assert result.exit_code == 2
    assert "unknown searcher 'rnd' (did you mean 'random'?); choose from: darts, evolution, random, rl" in result.output
    messages = " | ".join(str(warning.message) for warning in caught)
    assert "plugin 'oddity' registered an invalid searcher, skipped: expected a subclass of nasdip.Searcher, " \
           "got <function register_searchers.<locals>.<lambda>" in messages
    assert "plugin 'oddity' registered an invalid task, skipped: expected a subclass of nasdip.Task, got " \
           "'denoise'" in messages


def test_a_misspelt_hook_skips_the_plugin_naming_the_hook(plugin_distributions):
    plugin_distributions("typo", MISSPELT_PLUGIN)
    with pytest.warns(RuntimeWarning, match=r"^nasdip: plugin 'typo' from nasdip-typo is skipped: it implements "
                                            r"'register_searcher', which is not a nasdip hook; did you mean "
                                            r"'register_searchers'\?$"):
        pm = get_plugin_manager()
    assert not pm.has_plugin("typo")
    assert "typo" not in registry.names("searchers")


def test_an_optional_hook_of_a_newer_nasdip_is_allowed(plugin_distributions, recwarn):
    plugin_distributions("future", OPTIONAL_HOOK_PLUGIN)
    assert get_plugin_manager().has_plugin("future")
    assert not [w for w in recwarn if "future" in str(w.message)]


def test_load_plugins_env_naming_an_unknown_plugin_warns(fake_plugins, monkeypatch):
    monkeypatch.setenv(plugin_manager.LOAD_PLUGINS_ENV, "nasdip-walker, nasdip-wlaker")
    with pytest.warns(RuntimeWarning, match=r"^nasdip: NASDIP_LOAD_PLUGINS names 'nasdip-wlaker', but no installed "
                                            r"plugin has that entry-point or distribution name \(installed: .*"
                                            r"nasdip-walker.*\)$"):
        get_plugin_manager()
    assert "walker" in registry.names("searchers")


JUNK_PLUGIN = """
    import nasdip

    @nasdip.hookimpl
    def register_tasks(register):
        register(42)
"""

TASK_RAISER_PLUGIN = """
    import nasdip

    @nasdip.hookimpl
    def register_tasks(register):
        raise RuntimeError("task table missing")
"""


def test_each_broken_plugin_gives_exactly_one_warning_line(plugin_distributions, runner):
    from nasdip.cli import cli

    plugin_distributions("importfail", "raise ImportError('no such thing')\n")
    plugin_distributions("taskraiser", TASK_RAISER_PLUGIN)
    plugin_distributions("junk", JUNK_PLUGIN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning issued, not only the first at each place
        result = runner.invoke(cli, ["restore", "--task", "denoise", "--crop", "8", "--out", "out"])
        listing = runner.invoke(cli, ["search", "--help"])
    assert result.exit_code == 2 and "--crop 8 is too small" in result.output and listing.exit_code == 0
    lines = [str(warning.message) for warning in caught if str(warning.message).startswith("nasdip: ")]
    assert sorted(lines) == [
        "nasdip: plugin 'importfail' from nasdip-importfail failed to load and is skipped: ImportError: no such thing",
        "nasdip: plugin 'junk' registered an invalid task, skipped: expected a subclass of nasdip.Task, got 42",
        "nasdip: plugin 'taskraiser' failed in register_tasks and its tasks are skipped: RuntimeError: task table "
        "missing",
    ]
    assert all("\n" not in line for line in lines)


def test_skipped_plugins_are_recorded_with_their_distribution(plugin_distributions):
    plugin_distributions("importfail", "raise ImportError('no such thing')\n")
    plugin_distributions("typo", MISSPELT_PLUGIN)
    with pytest.warns(RuntimeWarning):
        skipped = plugin_manager.skipped_plugins()
    assert skipped["importfail"] == ("nasdip-importfail", "failed to load: ImportError: no such thing")
    assert skipped["typo"][0] == "nasdip-typo" and "'register_searcher', which is not a nasdip hook" in skipped["typo"][1]


def test_warn_once_warns_once_per_plugin_object_and_message():
    first, second = object(), object()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            plugin_manager.warn_once(first, "plugin 'a' is broken")
        plugin_manager.warn_once(first, "plugin 'a' is broken differently")
        plugin_manager.warn_once(second, "plugin 'a' is broken")
    assert [str(warning.message) for warning in caught] == [
        "nasdip: plugin 'a' is broken", "nasdip: plugin 'a' is broken differently", "nasdip: plugin 'a' is broken"]
    assert all(warning.category is RuntimeWarning for warning in caught)
