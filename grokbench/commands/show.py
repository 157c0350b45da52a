"""``grokbench show``: a stored run's scores, or the list of stored runs."""
from __future__ import annotations

import json

import click
from tabulate import tabulate

from ..scoring import to_jsonable
from .common import fmt_num, fmt_steps, open_store, scores_table


@click.command()
@click.argument("run_id", required=False)
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="SQLite results file")
@click.option("--json", "as_json", is_flag=True, help="print the stored result as JSON")
def show(run_id, store, as_json):
    """Show a stored run's scores (or list stored runs)."""
    db = open_store(store, readonly=True)  # reading never creates or changes a store
    if run_id is None:
        rows = [(r["run_id"], r["task"], r["method"], r["seed"], r["status"],
                 fmt_steps(r["scores"]["steps_to_generalize"]), fmt_num(r["scores"]["final_test_acc"]))
                for r in db.results()]
        click.echo(tabulate(rows, headers=["run", "task", "method", "seed", "status",
                                           "steps-to-generalize", "final test acc"]))
        return
    result = db.get(run_id)
    click.echo(json.dumps(to_jsonable(result)) if as_json else scores_table(result))
