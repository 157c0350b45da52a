"""``grokbench show``: a stored run's scores, or the list of stored runs."""
from __future__ import annotations

import json

import click
from tabulate import tabulate

from ..config import NOT_IDENTITY
from ..options import omitted_from_id, spell
from ..scoring import to_jsonable
from ..store import Store
from .common import fmt_run_num, fmt_run_steps, scores_table, store_option


# settings never shown as telling runs apart: the columns already shown, and what is no part of
# a run's id
_SHOWN = {"task", "method", "seed"}


def distinguishing(records) -> dict[str, str]:
    """Per run id, the settings that tell it apart from the other stored runs of its task and
    method (``lr=0.003 steps=5000``; plugin versions as ``plugin_versions.NAME``); "" where none
    do. A setting a run lacks (stored before it existed) counts as its default."""
    def flat(config: dict) -> dict:
        out = {k: v for k, v in config.items() if k not in NOT_IDENTITY | _SHOWN | {"plugin_versions"}}
        out.update({f"plugin_versions.{k}": v for k, v in (config.get("plugin_versions") or {}).items()})
        return {k: None if omitted_from_id(k, v) else v for k, v in out.items()}

    groups: dict[tuple, list] = {}
    for rec in records:
        groups.setdefault((rec["task"], rec["method"]), []).append((rec["run_id"], flat(rec["config"])))
    text = {}
    for members in groups.values():
        keys = sorted({k for _, cfg in members for k in cfg})
        differ = [k for k in keys if len({json.dumps(cfg.get(k), sort_keys=True) for _, cfg in members}) > 1]
        for rid, cfg in members:
            text[rid] = " ".join(f"{k}={spell(cfg.get(k))}" for k in differ)
    return text


@click.command()
@click.argument("run_id", required=False)
@store_option
@click.option("--json", "as_json", is_flag=True, help="print the stored result as JSON")
def show(run_id, store, as_json):
    """Show a stored run's scores (or list stored runs)."""
    db = Store(store, readonly=True)  # reading never creates or changes a store
    if run_id is None:
        records = db.records()  # without their curves
        apart = distinguishing(records)
        rows = [(r["run_id"], r["task"], r["method"], r["seed"], r["status"],
                 fmt_run_steps(r["scores"]["steps_to_generalize"]), fmt_run_num(r["scores"]["final_test_acc"]),
                 apart[r["run_id"]])
                for r in records]
        click.echo(tabulate(rows, headers=["run", "task", "method", "seed", "status",
                                           "steps-to-generalize", "test acc (decision point)", "settings"]))
        return
    result = db.get(run_id)
    click.echo(json.dumps(to_jsonable(result)) if as_json else scores_table(result))
