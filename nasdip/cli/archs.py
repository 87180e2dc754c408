"""``nasdip archs``: list named architectures, show one, decode the release's cell indices."""

from __future__ import annotations

import json
from typing import Any

import click

from nasdip.cli.options import net_config_options

#: Largest image side ``archs show --size`` counts FLOPs at (the count runs on the meta device: nothing is allocated).
MAX_SIZE = 65536


def arch_summary(spec: str, size: int, **config: Any) -> dict[str, Any]:
    """Everything ``archs show`` prints about a preset or document, as a dict."""
    from nasdip.arch.build import network_cost
    from nasdip.arch.catalog import resolve_arch, space_of
    from nasdip.nn.config import NetConfig

    arch = resolve_arch(spec)
    net_config = NetConfig(**config)
    cost = network_cost(arch, net_config, (size, size))
    return {
        "name": arch.name,
        "space": arch.space,
        "digest": arch.digest,
        "choices": dict(arch.choices),
        "description": space_of(arch).describe(arch),
        "config": net_config.to_dict(),
        "cost": cost.to_dict(),
        "meta": dict(arch.meta),
    }


@click.group(name="archs", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def archs_command(ctx: click.Context, as_json: bool) -> None:
    """List the named architectures (presets) of every search space."""
    if ctx.invoked_subcommand is not None:
        return
    from nasdip.arch.build import build_network, count_parameters
    from nasdip.arch.catalog import presets

    rows = []
    for name, arch in presets().items():
        rows.append({"name": name, "space": arch.space, "params": count_parameters(build_network(arch)),
                     "note": arch.meta.get("note", arch.meta.get("source", ""))})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'name':18} {'space':14} {'params (w=128, RGB)':>20}  note")
    for row in rows:
        click.echo(f"{row['name']:18} {row['space']:14} {row['params']:>20,}  {row['note']}")


@archs_command.command(name="show")
@click.argument("arch")
@net_config_options
@click.option("--size", type=click.IntRange(1, MAX_SIZE), default=256, show_default=True,
              help="Image side for the FLOP count.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show_command(arch: str, size: int, as_json: bool, **config: Any) -> None:
    """Summarise ARCH (a preset name or an architecture JSON file): decisions, parameters, FLOPs."""
    summary = arch_summary(arch, size, **config)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    cost = summary["cost"]
    click.echo(f"{summary['name'] or arch}  (space {summary['space']}, digest {summary['digest']})")
    for line in summary["description"]:
        click.echo(f"  {line}")
    config_text = ", ".join(f"{key}={value}" for key, value in summary["config"].items())
    click.echo(f"  network: {config_text}")
    click.echo(f"  parameters: {cost['params']:,}")
    click.echo(
        f"  compute at {size}x{size}: {cost['forward_flops'] / 1e9:.1f} GFLOP forward, "
        f"{cost['step_flops'] / 1e9:.1f} GFLOP per fitting step (forward + backward)"
    )


@archs_command.command(name="cell")
@click.argument("index", type=click.IntRange(0, 323))
def cell_command(index: int) -> None:
    """Decode the NAS-DIP release's cell INDEX (0-323) into nasdip's cell choices."""
    from nasdip.nn.cell import Cell

    cell = Cell.from_release_index(index)
    click.echo(f"release index {index}: {cell.describe()}")
    click.echo(json.dumps(cell.to_choices()))
