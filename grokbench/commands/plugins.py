"""``grokbench plugins`` and ``grokbench list``: what the installed plugins provide."""
from __future__ import annotations

import click
from tabulate import tabulate

from ..options import spell
from ..registry import KINDS, get_registry, singular
from ..search_space import describe_space


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
    """List tasks, models, losses, optimizers, methods, metrics, executors, loggers or claims,
    with each one's options (type, default and help), what a method sets, or a claim's source."""
    reg = get_registry()
    if kind == "methods":
        methods = [reg.get(kind, name) for name in reg.names(kind)]
        click.echo(tabulate([(m.name, m.description, _method_settings(m), m.plugin) for m in methods],
                            headers=["method", "description", "settings", "plugin"]))
        return
    if kind == "claims":
        claims = [reg.get(kind, name) for name in reg.names(kind)]
        click.echo(tabulate([(c.name, c.description, c.obj.source + (" (slow)" if c.obj.slow else ""),
                              c.plugin) for c in claims],
                            headers=["claim", "statement", "source", "plugin"]))
        return
    rows: list[tuple[str, str, str]] = []
    for name in reg.names(kind):
        entry = reg.get(kind, name)
        rows.append((name, entry.description + (" (wrapper)" if entry.wrapper else ""), entry.plugin))
        # one line per option under its component: `--set name=value`, its type and default, help
        rows += [("", f"  {key}={spell(option.default)}  ({option.type_name()})"
                      + (f"  {option.help}" if option.help else ""), "")
                 for key, option in entry.options.items()]
    has_options = any(reg.get(kind, name).options for name in reg.names(kind))
    header = "description; options: NAME=DEFAULT (TYPE) HELP" if has_options else "description"
    click.echo(tabulate(rows, headers=[singular(kind), header, "plugin"]))


def _method_settings(entry) -> str:
    """What a method sets, with its per-task recipes: what `--show-config` would resolve,
    without resolving."""
    def pairs(settings):
        return ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    recipes = "; ".join(f"{task}: {pairs(s)}" for task, s in sorted(entry.per_task.items()))
    text = pairs(entry.obj) + (f" | per task: {recipes}" if recipes else "")
    if entry.search_space:
        text += f" | tuning space: {describe_space(entry.search_space)}"
    return text
