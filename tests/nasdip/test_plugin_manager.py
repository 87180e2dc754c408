"""Entry-point discovery: broken plugins warn, NASDIP_LOAD_PLUGINS filters, lifecycle calls are isolated."""

from __future__ import annotations

import textwrap

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
    from nasdip.searcher import Searcher

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
