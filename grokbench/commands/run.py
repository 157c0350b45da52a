"""``grokbench run``: train one run (or show its stored result) and print its scores."""
from __future__ import annotations

import json

import click

from ..config import resolve
from ..data import atomic_write_bytes
from ..engine import run_or_load
from ..errors import UserError
from ..files import output_file
from ..registry import get_registry
from ..scoring import to_jsonable
from ..store import Store
from .common import (collect_overrides, explained_config, one_value, override_options, scores_table,
                     store_option)


@click.command()
@click.option("--task", "tasks", multiple=True, required=True,
              help="task name (grokbench list tasks)")
@click.option("--method", "methods", multiple=True,
              help="method or methods joined by +, e.g. perpgrad+wd (default: baseline); one "
                   "run has one: several are `grokbench sweep --method a,b`")
@override_options
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@click.option("--curve-file", type=click.Path(dir_okay=False), default=None,
              help="with --json: write the metrics curve to this file instead of inline")
@store_option
@click.option("--no-store", is_flag=True, help="do not save the run")
@click.option("--force", is_flag=True, help="train again even if this exact run is stored")
@click.option("--show-config", is_flag=True, help="print the resolved settings and exit")
@click.option("--explain", is_flag=True,
              help="with --show-config: name the layer that set each value")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def run(tasks, methods, preset, as_json, curve_file, store, no_store, force, show_config, explain,
        quiet, **kwargs):
    """Train one run and print its scores."""
    task = one_value("--task", tasks, "grokbench sweep --task a,b")
    method = one_value("--method", methods, "--method a+b combines them into one run; "
                       "grokbench sweep --method a,b runs each") if methods else "baseline"
    if explain and not show_config:
        raise UserError("--explain goes with --show-config: add --show-config")
    if curve_file and not as_json:
        raise UserError("--curve-file is written with --json: add --json, or drop --curve-file")
    if curve_file:  # before training: with --no-store a run that cannot be written is lost
        output_file(curve_file, "choose another file with --curve-file PATH")
    overrides = collect_overrides(kwargs)
    # `run` stops at the decision point unless told not to (--set early_stop=false trains the
    # full budget), as the suites do, so a run and a sweep of the same settings share one run
    # id; and it trains on one thread unless given --threads, as each sweep worker does: on a
    # 2-core machine beside another job, 2 threads ran the main job at 3.1 steps/s against
    # 18.4 with one (README, "Machines").
    overrides.setdefault("early_stop", True)
    overrides.setdefault("threads", 1)
    config = resolve(get_registry(), task, method, overrides, preset)
    if show_config and explain:
        click.echo(explained_config(config, overrides))
        return
    if show_config:
        click.echo(json.dumps(config, indent=2, sort_keys=True))
        return
    db = None if no_store else Store(store)
    result, was_stored = run_or_load(config, db, force=force, progress=not quiet)
    if was_stored and db is not None:
        click.echo(f"(stored result of an identical run in {db.path}; --force trains again)", err=True)
    if as_json:
        out = to_jsonable(dict(result))
        if curve_file:
            text = json.dumps(out.pop("curve"))
            atomic_write_bytes(curve_file, lambda fh: fh.write(text.encode("utf-8")))
            out["curve_file"] = curve_file
        click.echo(json.dumps(out))
    else:
        click.echo(scores_table(result))
        if db is not None:
            click.echo(f"saved to {db.path} as {result['run_id']} (grokbench show {result['run_id']})")
