"""``grokbench landscape``: Omnigrok's reduced loss landscape of a task over α (and N): each
point a stored run of the ``norm`` method (the work is :mod:`grokbench.landscape`, the runs go
through :mod:`grokbench.sweep`, the figures are drawn by :mod:`grokbench.plot`)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

from .. import landscape as ls
from ..config import parse_assignments
from ..errors import UserError
from ..files import output_file
from ..grid import parse_seeds
from ..landscape import by_size, least_test_error, w_c
from ..plot import landscape_heatmaps, lu_figure
from ..registry import get_registry
from ..store import Store
from ..sweep import DEFAULT_EXECUTOR, db_timings, plan, projection, run_sweep
from .common import store_option


def _num(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}g}"


def print_table(rows, steps_note: str):
    size_key = next((r["size_key"] for r in rows if r.get("size_key")), None)
    table = []
    for n, rs in by_size(rows).items():
        best = w_c(rs)
        for r in rs:
            mark = " ◀ w_c" if best is r else ""
            table.append(((n if n is not None else "-"), f"{r['alpha']:.3g}", _num(r["w"]),
                          _num(r["train_loss"]), _num(r["test_loss"]), _num(r["train_err"]),
                          _num(r["test_err"]),
                          ("converged" if r["converged"] else
                           "NOT converged: " + "/".join(s for s in r["statuses"] if s != "converged"))
                          + (f" ({r['n_converged']}/{len(r['seeds'])} seeds)" if len(r["seeds"]) > 1 else "")
                          + mark,
                          ",".join(i[:8] for i in r["run_ids"])))
    click.echo(tabulate(table, headers=[size_key or "N", "α", "w", "train loss", "test loss",
                                        "train err", "test err", "status", "run id"]))
    click.echo(steps_note)
    for n, rs in by_size(rows).items():
        best = w_c(rs)
        where = f"{size_key} = {n}: " if n is not None else ""
        if best is None:
            click.echo(f"{where}no converged point, so no w_c")
        else:
            click.echo(f"{where}w_c = {best['w']:.3g} (α = {best['alpha']:.3g}), reduced test loss "
                       f"{best['test_loss']:.3g}, test error {_num(best['test_err'])}")
            least = least_test_error(rs)
            if least is not None and best["test_err"] is not None and least["test_err"] < best["test_err"]:
                click.echo(f"{where}the least test error, {_num(least['test_err'])}, is at w = "
                           f"{least['w']:.3g} (α = {least['alpha']:.3g}), not at w_c: the reduced "
                           f"test loss there is {least['test_loss']:.3g}, so loss and error disagree")


@click.command()
@click.option("--task", default=None, help="the task (grokbench list tasks)")
@click.option("--alpha", "alphas", default=None, metavar="LO:HI:N | A,B,...",
              help="the α grid: N log-spaced values from LO to HI, or a list "
                   "(default 0.1:10:11, the paper's)")
@click.option("--n", "sizes", default=None, metavar="N1,N2,...",
              help="training-set sizes (the task's size setting, e.g. n_train); default: the task's")
@click.option("--seeds", default="0", show_default=True, help="e.g. 0,1,2 or 0-2")
@click.option("--steps", type=int, default=None,
              help="budget of every point: a fixed number of steps (default 10000, the paper's)")
@click.option("--eval-every", type=int, default=None,
              help="evaluate every N steps (default: steps / 50)")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="a setting for every point, e.g. --set lr=1e-3")
@click.option("--preset", default=None, help="a task preset for every point")
@click.option("--executor", default=DEFAULT_EXECUTOR, show_default=True,
              help="how runs are executed (grokbench list executors)")
@click.option("--workers", type=int, default=None, help="parallel runs (processes: one per core)")
@store_option
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="read the points from a JSONL file (written by --jsonl) instead of training")
@click.option("--jsonl", type=click.Path(dir_okay=False), default=None,
              help="write the points (one run a line) to this file")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="write the LU figure here (PNG); with two or more N also the (w, N) heatmaps "
                   "of the reduced errors, as STEM-heatmaps.png")
@click.option("--check-lu", is_flag=True,
              help="judge Omnigrok's LU claim (L at the smallest N, U at the largest); exit 1 "
                   "when it does not hold")
@click.option("--dry-run", is_flag=True, help="count the points (new / stored), project their cost, exit")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
def landscape(task, alphas, sizes, seeds, steps, eval_every, assignments, preset, executor,
              workers, store, from_file, jsonl, plot_path, check_lu, dry_run, quiet):
    """Omnigrok's reduced loss landscape: train at constant weight norm w = α·w₀ (method norm)
    at each α (and training-set size N), and report the final train and test loss and error.

    Every point is an ordinary stored run (resumable: run the same command again). Points whose
    run did not converge (stalled, still moving, NaN) are marked, and drawn hollow."""
    for target, flag in ((jsonl, "--jsonl"), (plot_path, "--plot")):
        if target:  # before any training: a path that cannot be written, a FIFO or a device
            output_file(target, f"choose another file with {flag} PATH")
    if plot_path:
        output_file(Path(plot_path).with_name(Path(plot_path).stem + "-heatmaps.png"),
                    "choose another file with --plot PATH")
    if from_file:
        if task or alphas or sizes or dry_run:
            raise UserError("--from reads finished points: drop --task/--alpha/--n/--dry-run")
        points = ls.read_points(from_file)
        steps_note = f"points read from {from_file}"
    else:
        if not task:
            raise UserError("say which task: grokbench landscape --task teacher-student "
                            "(or --from points.jsonl)")
        registry = get_registry()
        settings = parse_assignments(assignments)
        budget = steps if steps is not None else int(settings.pop("steps", ls.DEFAULT_STEPS))
        configs = ls.build_configs(registry, task, ls.parse_alphas(alphas or ls.DEFAULT_ALPHAS),
                                   ls.parse_sizes(sizes) if sizes else None, parse_seeds(seeds),
                                   budget, eval_every, settings, preset)
        size_key = ls.size_setting(registry, task) if sizes else None
        if dry_run:  # counts what is stored: creates no store at a mistyped path
            db = Store(store, readonly=True, missing_ok=True)
            try:
                todo = plan(configs, db)
                history = db_timings(db)
            finally:
                db.close()
            click.echo(f"{todo.total} points ({task}, method {ls.METHOD}, {budget} steps each): "
                       f"{len(todo.stored)} already stored in {db.path}, {len(todo.new)} new")
            if todo.new:
                rows, total = projection(todo.new, history, registry, db.path)
                click.echo(tabulate(rows, headers=["task", "new runs", "s / step", "s / evaluation",
                                                   "from", "CPU-hours"]))
                click.echo(f"projected: {total:.2f} CPU-hours; wall time ≈ that / workers")
            return
        report = run_sweep(configs, executor, workers, store, registry=registry,
                           progress=not quiet)
        db = Store(store)
        try:
            points = ls.points_from_store(db, configs, size_key)
        finally:
            db.close()
        steps_note = (f"{len(points)} points ({budget} steps each, fixed budget): trained "
                      f"{len(report.finished)} in {report.wall_time:.1f} s, "
                      f"{report.already_stored} already stored; results in {report.store_path}")
        if report.failed:
            click.echo(f"{len(report.failed)} points failed and are not stored: fix the cause "
                       "and run the same command to retry", err=True)
    rows = ls.aggregate(points)
    print_table(rows, steps_note)
    if jsonl:
        click.echo(f"wrote {ls.write_points(points, jsonl)}")
    if plot_path:
        click.echo(f"wrote {lu_figure(rows, plot_path)}")
        if len(ls.by_size(rows)) >= 2:
            path = Path(plot_path)
            click.echo(f"wrote {landscape_heatmaps(rows, path.with_name(path.stem + '-heatmaps.png'))}")
    failed = not from_file and bool(report.failed)
    if check_lu:
        claim = ls.lu_claim(points)
        for what, ok, detail in claim["checks"]:
            click.echo(f"  [{'ok' if ok else 'FAIL'}] {what}: {detail}")
        click.echo("LU claim " + ("holds" if claim["holds"] else "does NOT hold"))
        failed = failed or not claim["holds"]
    if failed:
        sys.exit(1)
