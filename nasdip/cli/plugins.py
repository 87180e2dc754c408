"""``nasdip plugins``: what every installed plugin registers, and what is wrong with what it registers.

Each plugin's row lists the names it registers that nasdip can use; a registration of the wrong kind (not a
``Task`` subclass, a nameless object: ``invalid``), a name two plugins register (``duplicate``: commands that
look the name up refuse it), a registration hook that raises (``failed``) and a plugin skipped while loading
(``skipped``) are listed as its problems, in the table and in the JSON (``problems``).
"""

from __future__ import annotations

import json
from typing import Any

import click


def plugin_inventory() -> list[dict[str, Any]]:
    """One dict per plugin: name, package, version, hooks, the usable names it registers of each kind, its
    commands and its ``problems`` (``{"kind", "problem", "registered", "detail"}``); skipped plugins too."""
    from nasdip import registry
    from nasdip.cli import plugin_commands_by_plugin
    from nasdip.hookspecs import REGISTRATION_HOOKS
    from nasdip.plugin_manager import get_plugin_manager, plugin_source, skipped_plugins

    pm = get_plugin_manager()
    rows: dict[str, dict[str, Any]] = {}
    for name, plugin in pm.list_name_plugin():
        source = plugin_source(name)
        callers = pm.get_hookcallers(plugin) or []
        rows[name] = new_row(name, source.package, source.version, source.builtin,
                             sorted(caller.name for caller in callers))
    for name, (package, reason) in skipped_plugins().items():
        rows[name] = new_row(name, package, "", False, [])
        rows[name]["problems"].append(problem("plugin", "skipped", name, reason))
    for kind in REGISTRATION_HOOKS.values():
        add_registrations(rows, kind, *registry.collect(kind))
    for plugin, commands in plugin_commands_by_plugin().items():
        rows[plugin]["commands"] = sorted(commands)
    return [rows[name] for name in sorted(rows, key=lambda n: (not rows[n]["builtin"], n))]


def new_row(name: str, package: str, version: str, builtin: bool, hooks: list[str]) -> dict[str, Any]:
    """An inventory row with nothing registered yet."""
    from nasdip.hookspecs import REGISTRATION_HOOKS

    return {"name": name, "package": package, "version": version, "builtin": builtin, "hooks": hooks,
            **{kind: [] for kind in REGISTRATION_HOOKS.values()}, "commands": [], "problems": []}


def problem(kind: str, what: str, registered: str, detail: str) -> dict[str, str]:
    """One problem of a plugin: its ``kind`` (``tasks``, ...), what is wrong (``invalid``, ``duplicate``,
    ``failed``, ``skipped``), the registration it concerns and the one-line detail."""
    return {"kind": kind, "problem": what, "registered": registered, "detail": detail}


def add_registrations(rows: dict[str, dict[str, Any]], kind: str, found: list[tuple[str, Any, object]],
                      failed: list[tuple[str, str, object]]) -> None:
    """Add one kind's registrations to the rows: usable names under ``kind``, the others as problems."""
    from nasdip import registry

    label = registry.KINDS[kind]
    valid: dict[str, list[str]] = {}  # name -> the plugins registering it
    for plugin, obj, _ in found:
        reason = registry.registration_problem(kind, obj)
        if reason is None:
            valid.setdefault(obj.name, []).append(plugin)
        else:
            name = getattr(obj, "name", None)
            shown = name if isinstance(name, str) and name else repr(obj)
            rows[plugin]["problems"].append(problem(kind, "invalid", shown, f"not a valid {label}, skipped: {reason}"))
    for name, plugins in valid.items():
        for plugin in plugins:
            others = [other for other in plugins if other != plugin]
            if not others:
                rows[plugin][kind].append(name)
                continue
            rows[plugin]["problems"].append(problem(
                kind, "duplicate", name, f"the {label} name is also registered by {', '.join(map(repr, others))}; "
                                         f"commands refuse it until one of them is uninstalled"))
    for plugin, error, _ in failed:
        rows[plugin]["problems"].append(problem(kind, "failed", f"register_{kind}",
                                                f"register_{kind} raised {error}; its {kind} are skipped"))


def format_inventory(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: one block per plugin, its problems marked."""
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
        for entry in row["problems"]:
            subject = "" if entry["problem"] in ("failed", "skipped") else f"{entry['registered']}: "
            lines.append(f"    {entry['problem'].upper() + ':':11} {subject}{entry['detail']}")
    return "\n".join(lines)


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, what they register and what is wrong with it (invalid, duplicate, failed or
    skipped registrations are marked)."""
    rows = plugin_inventory()
    click.echo(json.dumps(rows, indent=2) if as_json else format_inventory(rows))
