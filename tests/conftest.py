"""Shared fixtures: plugin registration that always cleans up, a fresh plugin manager, a CLI runner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nasdip import plugin_manager
from nasdip.plugin_manager import get_plugin_manager

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def register_plugin():
    """Register plugin objects for one test: ``register_plugin(obj, name)``; all are unregistered afterwards."""
    pm = get_plugin_manager()
    names: list[str] = []

    def register(plugin: object, name: str) -> object:
        pm.register(plugin, name=name)
        names.append(name)
        return plugin

    yield register
    for name in names:
        if pm.has_plugin(name):
            pm.unregister(name=name)


@pytest.fixture
def fresh_plugin_manager(monkeypatch):
    """Forget the process-wide plugin manager so the next use rediscovers plugins (restored afterwards)."""
    monkeypatch.setattr(plugin_manager, "_pm", None)
    monkeypatch.setattr(plugin_manager, "_sources", dict(plugin_manager._sources))
    monkeypatch.setattr(plugin_manager, "_skipped", {})
    yield
    # monkeypatch puts the original manager back


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def shared_data() -> Path:
    """The shared test images (../shared/data); tests needing them skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture
def wait_for_trials():
    """``wait(log, count)``: poll a run's ``trials.jsonl`` until it holds ``count`` lines (or 300 s pass)."""

    def wait(log: Path, count: int, timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < count):
            time.sleep(0.02)

    return wait
