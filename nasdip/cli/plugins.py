"""``nasdip plugins``: what every installed plugin registers."""

from __future__ import annotations

import json
from typing import Any

import click


def plugin_inventory() -> list[dict[str, Any]]:
    """One dict per plugin: name, package, version, hooks, and the names it registers of each kind."""
    from nasdip import registry
    from nasdip.cli import plugin_commands_by_plugin
    from nasdip.hookspecs import REGISTRATION_HOOKS
    from nasdip.plugin_manager import get_plugin_manager, plugin_source

    pm = get_plugin_manager()
    rows: dict[str, dict[str, Any]] = {}
    for name, plugin in pm.list_name_plugin():
        source = plugin_source(name)
        callers = pm.get_hookcallers(plugin) or []
        rows[name] = {
            "name": name,
            "package": source.package,
            "version": source.version,
            "builtin": source.builtin,
            "hooks": sorted(caller.name for caller in callers),
            **{kind: [] for kind in REGISTRATION_HOOKS.values()},
            "commands": [],
        }
    for kind in REGISTRATION_HOOKS.values():
        for plugin, obj in registry.registrations(kind):
            rows[plugin][kind].append(getattr(obj, "name", repr(obj)))
    for plugin, commands in plugin_commands_by_plugin().items():
        rows[plugin]["commands"] = sorted(commands)
    return [rows[name] for name in sorted(rows, key=lambda n: (not rows[n]["builtin"], n))]


def format_inventory(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: one block per plugin."""
    from nasdip.hookspecs import REGISTRATION_HOOKS

    lines = []
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        lines.append(f"{row['name']}  ({row['package']}{version})")
        for kind in [*REGISTRATION_HOOKS.values(), "commands"]:
            if row[kind]:
                lines.append(f"    {kind + ':':11} {', '.join(row[kind])}")
        other = [hook for hook in row["hooks"] if hook not in REGISTRATION_HOOKS and hook != "register_commands"]
        if other:
            lines.append(f"    {'hooks:':11} {', '.join(other)}")
    return "\n".join(lines)


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins and what they register."""
    rows = plugin_inventory()
    click.echo(json.dumps(rows, indent=2) if as_json else format_inventory(rows))
