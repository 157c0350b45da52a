"""``grokbench export``: the store's runs (and curves) as CSV or Parquet files, for pandas, R or
DuckDB (the tables are built in :mod:`grokbench.export`)."""
from __future__ import annotations

from pathlib import Path

import click

from ..config import stored_method_name
from ..data import output_file
from ..errors import UserError
from ..export import CURVE_COLUMNS, ID_COLUMNS, curve_rows, run_rows, write
from ..registry import get_registry
from ..store import Store, default_store_path
from .common import store_option


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="file format (parquet needs pyarrow)")
@click.option("--curves", is_flag=True,
              help="also write every run's curve, long: run_id, step, metric, value")
@store_option
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="the runs table (default: runs.csv or runs.parquet here); the curves go "
                   "beside it as NAME-curves.EXT")
@click.option("--task", default=None, help="only this task's runs")
@click.option("--method", default=None, help="only this method's runs")
@click.option("--force", is_flag=True, help="overwrite existing output files")
def export(fmt, curves, store, out, task, method, force):
    """Write the store's runs as a table: ids, status, scores, settings (config.*) and versions;
    with --curves also every evaluation's metrics."""
    path = Path(store) if store else default_store_path()
    if not path.exists():
        raise UserError(f"there is no results store at {path}; give one with --store FILE")
    runs_path = Path(out) if out else Path(f"runs.{fmt}")
    curves_path = runs_path.with_name(f"{runs_path.stem}-curves{runs_path.suffix or '.' + fmt}")
    for target in [runs_path] + ([curves_path] if curves else []):  # before the store is read
        output_file(target, "choose another file with -o PATH", force=force)
    filters = {"task": task}
    if method:
        filters["method"] = stored_method_name(get_registry(), method)
    db = Store(path, readonly=True)
    try:
        records = db.records(curves=curves, **filters)
    finally:
        db.close()
    written = [write(run_rows(records), runs_path, fmt, ID_COLUMNS)]
    if curves:
        written.append(write(curve_rows(records), curves_path, fmt, CURVE_COLUMNS))
    click.echo(f"{len(records)} runs from {path}: " + ", ".join(map(str, written)))
