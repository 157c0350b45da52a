"""The ``grokbench`` command line."""
from __future__ import annotations

import json
import math
import sqlite3
import sys

import click
from tabulate import tabulate

from . import __version__
from .config import parse_assignments, resolve
from .errors import UserError
from .plugins import KINDS, get_registry
from .scoring import to_jsonable


def main():
    try:
        cli(standalone_mode=False)
    except UserError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except sqlite3.DatabaseError as exc:  # the results store is the only SQLite file read
        from .store import CORRUPT_FIX
        reason = " ".join(str(exc).split())
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        click.echo(f"Error: the results store cannot be read ({reason}); "
                   + ("is another program holding it?" if "locked" in reason else CORRUPT_FIX),
                   err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grokbench")
def cli():
    """grokbench: does method X make task Y generalize sooner, and does it avoid Softmax Collapse?"""


# -- formatting ---------------------------------------------------------------------------------

def fmt_steps(value, resolution=None):
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞ (not reached)"
    return f"{int(value)}" + (f" (±{resolution})" if resolution else "")


def fmt_num(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def scores_table(result) -> str:
    s, c = result["scores"], result["config"]
    rows = [
        ("task / method", f"{c['task']} / {c['method']}  (seed {c['seed']}, {c['dtype']}, {c['device']})"),
        ("run id", result["run_id"]),
        (f"steps-to-fit (train acc ≥ {c['fit_target']})", fmt_steps(s["steps_to_fit"], s["steps_to_fit_resolution"])),
        (f"steps-to-generalize ({c['target_metric']} ≥ {c['target']})",
         fmt_steps(s["steps_to_generalize"], s["steps_to_generalize_resolution"])),
        ("grokking delay", fmt_steps(s["grokking_delay"])),
        (f"collapse onset (SC ≥ {s['sc_threshold']})",
         fmt_steps(s["collapse_onset"], s["collapse_onset_resolution"]) if s["max_sc"] is not None else "n/a"),
        ("max SC fraction", fmt_num(s["max_sc"])),
        ("final train / test acc", f"{fmt_num(s['final_train_acc'])} / {fmt_num(s['final_test_acc'])}"),
        ("best test acc", fmt_num(s["best_test_acc"])),
        ("NLM cosine (final)", fmt_num(s["nlm_cosine"])),
        ("weight norm (final)", fmt_num(s["weight_norm"])),
        ("steps run", f"{s['steps_run']} of {c['steps']}" + ("  (stopped: NaN/inf)" if s["nonfinite"] else "")),
        ("wall time", f"{s['wall_time']:.1f} s" if s.get("wall_time") is not None else "n/a"),
        ("steps/s (training steps only)", fmt_num(s["steps_per_s"])),
    ]
    return tabulate(rows, tablefmt="simple_outline")


def open_store(path):
    from .store import Store
    return Store(path)


# -- commands -----------------------------------------------------------------------------------

OVERRIDES = [
    ("--model", str, "model name (grokbench list models)"),
    ("--loss", str, "loss name (grokbench list losses)"),
    ("--optimizer", str, "base optimizer name (grokbench list optimizers)"),
    ("--lr", float, "learning rate"),
    ("--weight-decay", float, "weight decay γ"),
    ("--init-scale", float, "Omnigrok's α: scale every parameter after init"),
    ("--steps", int, "training steps (the budget)"),
    ("--batch-size", int, "minibatch size (default: the task's; full batch for algorithmic tasks)"),
    ("--eval-every", int, "evaluate every N steps (denser early)"),
    ("--seed", int, "random seed"),
    ("--dtype", click.Choice(["float16", "bfloat16", "float32", "float64"]), "training precision"),
    ("--device", str, "torch device, e.g. cpu, cuda, cuda:1, mps"),
    ("--threads", int, "torch/OpenMP threads for this process"),
]


def override_options(fn):
    for flag, typ, help_text in reversed(OVERRIDES):
        fn = click.option(flag, type=typ, default=None, help=help_text)(fn)
    fn = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                      help="any other setting, e.g. --set p=97 --set betas=0.9,0.98")(fn)
    fn = click.option("--preset", default=None, help="a task's named settings, e.g. paper")(fn)
    return fn


def collect_overrides(kwargs) -> dict:
    overrides = parse_assignments(kwargs.pop("assignments", ()))
    for flag, _, _ in OVERRIDES:
        key = flag.lstrip("-").replace("-", "_")
        if kwargs.get(key) is not None:
            overrides[key] = kwargs[key]
        kwargs.pop(key, None)
    return overrides


@cli.command()
@click.option("--task", required=True, help="task name (grokbench list tasks)")
@click.option("--method", default="baseline", show_default=True,
              help="method or methods joined by +, e.g. perpgrad+stablemax")
@override_options
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@click.option("--curve-file", type=click.Path(dir_okay=False), default=None,
              help="with --json: write the metrics curve to this file instead of inline")
@click.option("--store", type=click.Path(dir_okay=False), default=None,
              help="SQLite results file (default: $GROKBENCH_STORE or the user data dir)")
@click.option("--no-store", is_flag=True, help="do not save the run")
@click.option("--force", is_flag=True, help="train again even if this exact run is stored")
@click.option("--show-config", is_flag=True, help="print the resolved settings and exit")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def run(task, method, preset, as_json, curve_file, store, no_store, force, show_config, quiet, **kwargs):
    """Train one run and print its scores."""
    from .engine import run as run_engine
    from .config import run_id
    config = resolve(get_registry(), task, method, collect_overrides(kwargs), preset)
    if show_config:
        click.echo(json.dumps(config, indent=2, sort_keys=True))
        return
    db = None if no_store else open_store(store)
    if db is not None and not force and db.has(run_id(config)):
        result = db.get(run_id(config))
        click.echo(f"(stored result of an identical run in {db.path}; --force trains again)", err=True)
    else:
        if db is not None:
            db.check_writable()  # now: a store found read-only at save time loses the run
        result = run_engine(config, progress=not quiet)
        if db is not None:
            db.save(result)
    if as_json:
        out = to_jsonable(dict(result))
        if curve_file:
            with open(curve_file, "w") as fh:
                json.dump(out.pop("curve"), fh)
            out["curve_file"] = curve_file
        click.echo(json.dumps(out))
    else:
        click.echo(scores_table(result))
        if db is not None:
            click.echo(f"saved to {db.path} as {result['run_id']} (grokbench show {result['run_id']})")


@cli.command()
@click.argument("run_id", required=False)
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="SQLite results file")
@click.option("--json", "as_json", is_flag=True, help="print the stored result as JSON")
def show(run_id, store, as_json):
    """Show a stored run's scores (or list stored runs)."""
    db = open_store(store)
    if run_id is None:
        rows = [(r["run_id"], r["task"], r["method"], r["seed"], r["status"],
                 fmt_steps(r["scores"]["steps_to_generalize"]), fmt_num(r["scores"]["final_test_acc"]))
                for r in db.results()]
        click.echo(tabulate(rows, headers=["run", "task", "method", "seed", "status",
                                           "steps-to-generalize", "final test acc"]))
        return
    result = db.get(run_id)
    click.echo(json.dumps(to_jsonable(result)) if as_json else scores_table(result))


@cli.command()
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


@cli.command("list")
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



# Commands that live with their subsystem; each imports its heavy dependencies when it runs.
from .data_cli import data  # noqa: E402
from .leaderboard import leaderboard  # noqa: E402
from .plot import plot  # noqa: E402
from .sweep import sweep  # noqa: E402

for _command in (sweep, leaderboard, plot, data):
    cli.add_command(_command)
