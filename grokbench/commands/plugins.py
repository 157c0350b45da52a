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
    """List tasks, models, losses, optimizers, methods, metrics, executors, loggers or claims."""
    reg = get_registry()
    rows = []
    for name in reg.names(kind):
        entry = reg.get(kind, name)
        extra = " (wrapper)" if entry.wrapper else ""
        rows.append((name, entry.description + extra, _settings_text(entry), entry.plugin))
    click.echo(tabulate(rows, headers=[kind[:-1], "description", "settings", "plugin"]))


def _settings_text(entry) -> str:
    """What a component lets you set (its options and their defaults), or what a method sets,
    with its per-task recipes: what `--show-config` would resolve, without resolving."""
    def pairs(settings):
        return ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    if entry.kind == "claims":
        return entry.obj.source + (" (slow)" if entry.obj.slow else "")
    if entry.kind == "methods":
        recipes = "; ".join(f"{task}: {pairs(s)}" for task, s in sorted(entry.per_task.items()))
        return pairs(entry.obj) + (f" | per task: {recipes}" if recipes else "")
    return pairs(entry.options)
