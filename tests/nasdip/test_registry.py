"""Registry look-ups: names, unknown names, duplicates, registration through fixtures."""

from __future__ import annotations

import pytest

from nasdip import hookimpl, registry
from nasdip.errors import DuplicateNameError, UnknownNameError
from nasdip.searcher import Searcher


class EchoSearcher(Searcher):
    name = "echo"
    help = "test searcher"

    def ask(self):
        return self.space.sample(self.rng)

    def tell(self, arch, reward):
        pass


class EchoPlugin:
    @hookimpl
    def register_searchers(self, register):
        register(EchoSearcher)


def test_builtins_are_registered():
    assert {"nasdip", "upsample-cell", "cross-scale", "dip"} <= set(registry.names("spaces"))
    assert "random" in registry.names("searchers")


def test_hook_register_searchers(register_plugin):
    register_plugin(EchoPlugin(), "echo-plugin")
    assert registry.get("searchers", "echo") is EchoSearcher
    assert registry.entries("searchers")["echo"].plugin == "echo-plugin"
    assert registry.entries("searchers")["echo"].summary == "test searcher"


def test_fixture_unregistered_the_plugin():
    assert "echo" not in registry.names("searchers")


def test_unknown_name_lists_available_in_one_line():
    with pytest.raises(UnknownNameError) as caught:
        registry.get("searchers", "rll")
    message = str(caught.value)
    assert "\n" not in message
    assert "unknown searcher 'rll'" in message
    assert "random" in message


def test_two_plugins_with_one_name_name_both(register_plugin):
    register_plugin(EchoPlugin(), "first-echo")
    register_plugin(EchoPlugin(), "second-echo")
    with pytest.raises(DuplicateNameError) as caught:
        registry.entries("searchers")
    assert "'first-echo'" in str(caught.value) and "'second-echo'" in str(caught.value)


def test_nameless_registration_is_a_plugin_bug(register_plugin):
    class Nameless:
        @hookimpl
        def register_spaces(self, register):
            register(object())

    register_plugin(Nameless(), "nameless")
    with pytest.raises(TypeError, match="nameless"):
        registry.entries("spaces")


def test_defaults_are_marked_by_the_plugins():
    assert registry.default_name("spaces") == "nasdip"
    assert registry.default_name("rewards") == "psnr"
    assert registry.default_name("executors") == "serial"
    with pytest.raises(UnknownNameError, match="no searcher is marked as the default"):
        registry.default_name("searchers")


class TwoDefaults:
    @hookimpl
    def register_executors(self, register):
        from nasdip.executor import Executor

        class Another(Executor):
            name = "another"
            default = True

            def run(self, jobs, on_outcome):
                pass

        register(Another)


def test_a_plugin_cannot_replace_a_builtin_default(register_plugin):
    register_plugin(TwoDefaults(), "two-defaults")
    assert "another" in registry.names("executors")
    assert registry.default_name("executors") == "serial"


def test_a_task_without_a_default_architecture_asks_for_one():
    from nasdip.errors import UsageError
    from nasdip.task import Task

    class Bare(Task):
        name = "bare"

        def settings(self): ...

        def degrade(self, clean, generator, name="image"): ...

        def observe(self, observation, info=None, name="image"): ...

    with pytest.raises(UsageError, match="task 'bare' has no default architecture; choose one with --arch"):
        Bare().arch_spec(None)
    assert Bare().arch_spec("dip-skip") == "dip-skip"
    assert registry.get("tasks", "sr")(scale=4).reference_specs() == ("dip-skip", "nasdip-sr")
