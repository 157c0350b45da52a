"""``grokbench sweep``: run a grid of tasks × methods × seeds × settings through an executor
(the work is :mod:`grokbench.sweep`; the grid is read by :mod:`grokbench.grid`)."""
from __future__ import annotations

import sys

import click
from tabulate import tabulate

from ..errors import UserError
from ..grid import build_spec, expand, parse_shard
from ..records import committed_records
from ..registry import get_registry
from ..resume import saved_note
from ..store import Store
from ..sweep import (CALIBRATED, CALIBRATION_CAVEAT, DEFAULT_EXECUTOR, committed_timings, db_timings, plan,
                     projection, run_sweep, shard_of)
from .common import store_option


@click.command()
@click.option("--suite", default=None, help="a named suite (TOML in leaderboards/), e.g. quick")
@click.option("--file", "grid_file", type=click.Path(dir_okay=False), default=None,
              help="a grid TOML file (tasks, methods, seeds, settings, grid)")
@click.option("--task", "tasks", multiple=True, help="task(s); repeat or comma-separate")
@click.option("--method", "methods", multiple=True,
              help="method(s); repeat or comma-separate (default: baseline)")
@click.option("--seeds", default=None, help="e.g. 0,1,2 or 0-9 (default: 0,1,2)")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="a setting to sweep, crossed with everything else, e.g. --grid lr=0.01,0.001")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="a setting for every run, e.g. --set p=97 --set steps=5000")
@click.option("--preset", default=None, help="a task preset for every run")
@click.option("--tuning", type=int, default=None, metavar="N",
              help="tuning-fair protocol: N trials per task × method × seed, drawn from each "
                   "method's search space (a method without one: its recipe with N seeds)")
@click.option("--executor", default=DEFAULT_EXECUTOR, show_default=True,
              help="how runs are executed (grokbench list executors)")
@click.option("--workers", type=int, default=None,
              help="parallel runs (default: the executor's; processes: one per core)")
@store_option
@click.option("--shard", default=None, metavar="I/N",
              help="run only the I-th of N contiguous pieces of the grid (build a big suite in pieces)")
@click.option("--skip-committed", is_flag=True,
              help="with --suite: skip runs whose results are committed in leaderboards/NAME.results.jsonl")
@click.option("--dry-run", is_flag=True,
              help="count the runs (new / already stored), project their CPU-hours, and exit")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def sweep(suite, grid_file, tasks, methods, seeds, grid, assignments, preset, tuning, executor,
          workers, store, shard, skip_committed, dry_run, quiet):
    """Run a grid of tasks × methods × seeds × settings; runs already stored are skipped.

    Interrupted or killed, the same command resumes: finished runs are kept, the rest are run."""
    registry = get_registry()
    piece = parse_shard(shard)
    if skip_committed and not suite:
        raise UserError("--skip-committed reads a suite's committed results: give --suite NAME")
    spec = build_spec(suite, grid_file, tasks, methods, seeds, grid, assignments, preset, tuning)
    registry.get("executors", executor)  # an unknown name fails before any work
    not_applicable: list[tuple[str, str, str]] = []
    configs = expand(registry, spec, not_applicable)
    for task, method, reason in not_applicable:
        click.echo(f"not applicable, skipped: {task} / {method} ({reason})", err=True)
    if piece:
        configs = shard_of(configs, *piece)
    committed = committed_records(spec["name"]) if skip_committed else []
    also_done = {r["run_id"] for r in committed}
    if dry_run:  # counts what is stored: creates no store at a mistyped path
        db = Store(store, readonly=True, missing_ok=True)
        try:
            todo = plan(configs, db, also_done)
            history = db_timings(db) + committed_timings(committed or committed_records(spec["name"]))
        finally:
            db.close()
        click.echo(f"{todo.total} runs in the grid ({len(spec['tasks'])} tasks × "
                   f"{len(spec['methods'])} methods × {len(spec['seeds'])} seeds"
                   + "".join(f" × {len(v)} {k}" for k, v in sorted(spec["grid"].items()))
                   + (f" × {spec['tuning']} tuning trials" if spec.get("tuning") else "")
                   + (f", shard {piece[0]}/{piece[1]}" if piece else "")
                   + f"): {len(todo.stored)} already stored in {db.path}"
                   + (" or committed" if skip_committed else "") + f", {len(todo.new)} new"
                   + saved_note(db.path, todo.new))
        for line in missing_data(todo.new, registry):
            click.echo(f"warning: {line}", err=True)
        if todo.new:
            rows, total = projection(todo.new, history, registry, db.path)
            click.echo(tabulate(rows, headers=["task", "new runs", "s / step", "s / evaluation",
                                               "from", "CPU-hours"]))
            calibrated = any(CALIBRATED in row[4] for row in rows)
            click.echo(f"projected: {total:.2f} CPU-hours, at most where a run is projected from "
                       "recorded timings (runs that reach their target stop early)"
                       + (f"; where a row says calibrated, from a 20-step calibration, "
                          f"{CALIBRATION_CAVEAT}" if calibrated else "")
                       + "; wall time ≈ that / workers")
        return
    report = run_sweep(configs, executor, workers, store, registry=registry, progress=not quiet,
                       also_done=also_done)
    # Of the solved runs only: not the leaderboard's median steps-to-generalize, which counts
    # each miss as ∞ (`grokbench leaderboard` shows that one).
    rows = [(r["task"], r["method"], r["runs"], r["stored"], r["solved"], r["failed"],
             "n/a" if r["median_steps_of_solved"] is None else f"{r['median_steps_of_solved']:g}")
            for r in report.summary]
    click.echo(tabulate(rows, headers=["task", "method", "runs", "stored", "solved", "failed",
                                       "median steps (solved only)"]))
    click.echo(f"trained {len(report.finished)} runs in {report.wall_time:.1f} s "
               f"({report.already_stored} already stored, {len(report.failed)} failed); "
               f"results in {report.store_path}")
    if report.failed:
        click.echo("failed runs are not stored: fix the cause and run the same command to retry",
                   err=True)
        sys.exit(1)  # not ctx.exit: cli.main runs click with standalone_mode=False, which drops it


def missing_data(configs, registry) -> list[str]:
    """One line per task of ``configs`` whose data is not on this machine (Task.data_missing):
    its new runs would fail when trained, whatever the projection says."""
    by_task: dict[tuple, list] = {}
    for cfg in configs:
        by_task.setdefault((cfg["task"], str(cfg.get("data_dir"))), []).append(cfg)
    lines = []
    for (task, _), cfgs in by_task.items():
        why = registry.get("tasks", task).obj().data_missing(cfgs[0])
        if why:
            lines.append(f"{len(cfgs)} new {task} run{'s' if len(cfgs) != 1 else ''} cannot "
                         f"train here: {why}")
    return lines
