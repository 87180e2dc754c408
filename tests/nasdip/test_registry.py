"""Registry look-ups: names, unknown names, duplicates, registration through fixtures."""

from __future__ import annotations

import warnings

import pytest

from nasdip import hookimpl, registry
from nasdip.errors import DuplicateNameError, UnknownNameError
from nasdip.search.searcher import Searcher


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


def test_nameless_registration_is_skipped_with_a_warning(register_plugin):
    class Nameless:
        @hookimpl
        def register_searchers(self, register):
            class Anonymous(EchoSearcher):
                name = ""

            register(Anonymous)

    register_plugin(Nameless(), "nameless")
    with pytest.warns(RuntimeWarning, match=r"^nasdip: plugin 'nameless' registered an invalid searcher, skipped: "
                                            r"it has no string 'name': "):
        assert "random" in registry.entries("searchers")


@pytest.mark.parametrize(
    ("kind", "obj", "problem"),
    [
        ("spaces", object(), "expected a nasdip.Space instance, got <object object"),
        ("searchers", "echo", "expected a subclass of nasdip.Searcher, got 'echo'"),
        ("tasks", int, "expected a subclass of nasdip.Task, got <class 'int'>"),
        ("executors", EchoSearcher, "expected a subclass of nasdip.Executor, got <class "),
        ("rewards", lambda context: 1.0, "expected a nasdip.Reward instance, got <function "),
    ],
)
def test_wrong_kinds_are_skipped_with_a_warning_naming_the_plugin(register_plugin, kind, obj, problem):
    class Wrong:
        pass

    setattr(Wrong, f"register_{kind}", hookimpl(lambda self, register: register(obj)))
    register_plugin(Wrong(), "wrong")
    label = registry.KINDS[kind]
    with pytest.warns(RuntimeWarning, match=rf"^nasdip: plugin 'wrong' registered an invalid {label}, skipped: "):
        found = registry.entries(kind)
    assert all(entry.plugin != "wrong" for entry in found.values()) and found
    assert registry.registration_problem(kind, obj).startswith(problem)


def test_a_raising_hook_skips_everything_that_plugin_registered(register_plugin):
    class HalfDone:
        @hookimpl
        def register_searchers(self, register):
            register(EchoSearcher)
            raise KeyError("config")

    register_plugin(HalfDone(), "half-done")
    with pytest.warns(RuntimeWarning, match=r"^nasdip: plugin 'half-done' failed in register_searchers and its "
                                            r"searchers are skipped: KeyError: 'config'$"):
        names = registry.names("searchers")
    assert "echo" not in names and "random" in names


def test_defaults_are_marked_by_the_plugins():
    assert registry.default_name("spaces") == "nasdip"
    assert registry.default_name("rewards") == "psnr"
    assert registry.default_name("executors") == "serial"
    with pytest.raises(UnknownNameError, match="no searcher is marked as the default"):
        registry.default_name("searchers")


class TwoDefaults:
    @hookimpl
    def register_executors(self, register):
        from nasdip.search.executor import Executor

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
    from nasdip.fit.task import Task

    class Bare(Task):
        name = "bare"

        def settings(self): ...

        def degrade(self, clean, generator, name="image"): ...

        def observe(self, observation, info=None, name="image"): ...

    with pytest.raises(UsageError, match="task 'bare' has no default architecture; choose one with --arch"):
        Bare().arch_spec(None)
    assert Bare().arch_spec("dip-skip") == "dip-skip"
    assert registry.get("tasks", "sr")(scale=4).reference_specs() == ("dip-skip", "nasdip-sr")


class Junk:
    """Registers the integer 42 as a task, and fails to register its searchers."""

    @hookimpl
    def register_tasks(self, register):
        register(42)

    @hookimpl
    def register_searchers(self, register):
        raise RuntimeError("searcher table missing")


def nasdip_warnings(caught) -> list[str]:
    return [str(warning.message) for warning in caught if str(warning.message).startswith("nasdip: ")]


def test_each_problem_of_a_plugin_is_warned_once_however_often_the_registry_is_looked_up(register_plugin):
    register_plugin(Junk(), "junk")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Python's own once-per-place filter must not be what hides repeats
        for _ in range(3):
            registry.names("tasks")
            registry.get("tasks", "denoise")
            registry.registrations("searchers")
            registry.entries("searchers")
    assert nasdip_warnings(caught) == [
        "nasdip: plugin 'junk' registered an invalid task, skipped: expected a subclass of nasdip.Task, got 42",
        "nasdip: plugin 'junk' failed in register_searchers and its searchers are skipped: RuntimeError: searcher "
        "table missing"]


def test_another_plugin_object_with_the_same_problem_is_warned_about_again(register_plugin):
    register_plugin(Junk(), "junk-1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.names("tasks")
        register_plugin(Junk(), "junk-2")
        registry.names("tasks")
        registry.names("tasks")
    assert [line.split("'")[1] for line in nasdip_warnings(caught)] == ["junk-1", "junk-2"]


def test_collect_reports_registrations_and_failures_without_warning(register_plugin, recwarn):
    junk = register_plugin(Junk(), "junk")
    found, failed = registry.collect("tasks")
    assert ("junk", 42, junk) in found and failed == []
    found, failed = registry.collect("searchers")
    assert [(name, error) for name, error, _ in failed] == [("junk", "RuntimeError: searcher table missing")]
    assert not nasdip_warnings(recwarn)
