"""``grokbench plugins`` and ``grokbench list``: what the installed plugins provide."""
from __future__ import annotations

import click
from tabulate import tabulate

from ..registry import KINDS, get_registry


@click.command()
def plugins():
    """List the installed plugins and what each registered."""
    reg = get_registry()
    rows = []
    for info in reg.plugins.values():
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registered.items())
        if info.error:  # skipped when loaded (a warning said so): say why here
            what = f"BROKEN, skipped: {info.error}"
        rows.append((info.name, f"{info.distribution or '?'} {info.version or ''}".strip(), what))
    click.echo(tabulate(rows, headers=["plugin", "distribution", "registered"]))


@click.command("list")
@click.argument("kind", type=click.Choice(KINDS))
def list_cmd(kind):
    """List tasks, models, losses, optimizers, methods, metrics, executors or loggers."""
    reg = get_registry()
    rows = []
    for name in reg.names(kind):
        entry = reg.get(kind, name)
        extra = " (wrapper)" if entry.wrapper else ""
        rows.append((name, entry.description + extra, entry.plugin))
    click.echo(tabulate(rows, headers=[kind[:-1], "description", "plugin"]))
