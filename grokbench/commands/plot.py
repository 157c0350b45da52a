"""``grokbench plot``: figures as PNG, of one run, of methods on a task, or of a suite's
performance profiles (the drawing is in :mod:`grokbench.plot`)."""
from __future__ import annotations

import re

import click

from ..config import run_id as make_id
from ..data import output_file
from ..errors import UserError
from ..grid import expand, load_suite
from ..leaderboard import REFERENCE, build, label_runs
from ..plot import compare_figure, profile_figure, run_figure
from ..records import read_records, store_pool, suite_records
from ..registry import get_registry
from ..store import Store
from .common import method_list, store_option


@click.command()
@click.argument("run_id", required=False)
@click.option("--task", default=None, help="compare methods on this task (with --method)")
@click.option("--method", "methods", multiple=True,
              help="methods to compare: repeat or comma-separate (a+b is one combination)")
@click.option("--suite", default=None, help="performance profiles of a suite's leaderboard "
              "(with --task: only that suite's runs)")
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="with --suite: build the profiles from a raw results file instead of the store")
@store_option
@click.option("--metric", default=None, help="with --task: a second panel of this recorded "
              "metric (e.g. fourier_top5_energy) against the same steps")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None, help="PNG file to write")
def plot(run_id, task, methods, suite, from_file, store, metric, out):
    """Figures as PNG: one run (RUN_ID), methods on a task (--task, --method ...), or a suite's
    performance profiles (--suite)."""
    if sum(bool(x) for x in (run_id, task, suite and not task)) != 1:
        raise UserError("say what to plot: a RUN_ID, --task T --method A --method B, or --suite NAME")
    if metric and not task:
        raise UserError("--metric adds a panel to a comparison: give --task T --method A too")
    if from_file and not suite:
        raise UserError("--from builds a suite's profiles: give --suite NAME too")
    if out:  # before any work: a path that cannot be written, or a FIFO/device/folder
        output_file(out, "choose another file with -o PATH")
    if run_id:
        db = Store(store, readonly=True)
        result = db.get(run_id)
        # a stored id is not trusted as a file name (``../x`` would leave this folder)
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", result["run_id"][:8])
        path = run_figure(result, out or f"grokbench-{safe}.png")
    elif task:
        if not methods:
            raise UserError(f"which methods? e.g. --task {task} --method baseline --method perpgrad")
        methods = method_list(methods)  # repeated or a,b; a+b is one combination
        db = Store(store, readonly=True)
        rows = [row for m in methods for row in db.results(task=task, method=m)]
        if suite:  # only the suite's configurations, not whatever else the store holds
            # a pair the suite lists as not applicable has no runs to keep
            ids = {make_id(c) for c in expand(get_registry(), load_suite(suite), [])}
            rows = [r for r in rows if r["run_id"] in ids]
        missing = [m for m in methods if not any(r["method"] == m for r in rows)]
        if missing:
            raise UserError(f"no stored runs of {', '.join(missing)} on {task} in {db.path}; "
                            f"run them first (grokbench sweep --task {task} --method {missing[0]})")
        groups = label_runs(rows)[task]
        order = {m: i for i, m in enumerate(methods)}
        groups = dict(sorted(groups.items(), key=lambda kv: order.get(kv[0].split(" (")[0], 99)))
        path = compare_figure(groups, task, out or f"{task}-{'-'.join(methods)}.png", metric)
    else:
        spec = load_suite(suite)
        if from_file:
            records, missing = read_records(from_file), []
        else:
            db = Store(store, readonly=True)
            try:
                pool = store_pool(db)
            finally:
                db.close()
            records, missing, _ = suite_records(get_registry(), spec, pool, str(db.path),
                                                allow_missing=True)
        lb = build(records, suite, reference=spec.get("reference", REFERENCE),
                   missing_configs=missing)
        path = profile_figure(lb, out or f"{suite}.profile.png")
    click.echo(f"wrote {path}")
