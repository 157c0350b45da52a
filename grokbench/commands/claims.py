"""``grokbench claims``: check the papers' claims, each a small sweep of stored runs and a
statistic of their scores beside the paper's value (the work is :mod:`grokbench.claim_runs`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import torch
from tabulate import tabulate

from .. import __version__, resume
from ..claim_runs import (BAD, CALIBRATION_CAVEAT, HEADERS, check_claims, result_text, select,
                          table_rows, to_jsonable_results, write_report)
from ..config import check_device as check_name
from ..engine import check_device
from ..errors import UserError
from ..grid import parse_shard, suites_dir
from ..registry import get_registry
from ..store import Store, default_store_path
from ..sweep import DEFAULT_EXECUTOR
from .common import store_option

REPORT_COMMAND = "grokbench claims --slow --write"


@click.command()
@click.option("-k", "patterns", multiple=True, metavar="NAME",
              help="only claims whose name contains NAME (repeatable, or comma-separated); a slow "
                   "claim named in full runs without --slow")
@click.option("--slow", is_flag=True, help="include the slow claims (long runs: minutes to hours)")
@store_option
@click.option("--executor", default=DEFAULT_EXECUTOR, show_default=True,
              help="how runs are executed (grokbench list executors)")
@click.option("--workers", type=int, default=None,
              help="parallel runs (default: the executor's; processes: one per core)")
@click.option("--use-committed", is_flag=True,
              help="also reuse the committed suites' raw results (leaderboards/*.results.jsonl) "
                   "for runs with the same run id")
@click.option("--no-run", is_flag=True,
              help="train nothing: evaluate from the runs already stored; claims with missing "
                   "runs are 'not run', with their projected cost")
@click.option("--dry-run", is_flag=True,
              help="say, per claim, how many runs are stored and new and their projected CPU-hours")
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
@click.option("--write", is_flag=True,
              help="write the report claims.md (and claims.json) to --out-dir")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="where --write writes (default: leaderboards/)")
@click.option("--list", "list_only", is_flag=True, help="list the installed claims and exit")
@click.option("--device", default=None,
              help="train the claims' runs on this torch device (e.g. cuda); runs computed on "
                   "any device count, and the report says where each ran")
@click.option("--shard", default=None, metavar="I/N",
              help="train only shard I of N of each claim's runs, dealt like cards (1st run to "
                   "shard 1, 2nd to shard 2, ...), so N processes or machines share a claim's "
                   "seeds; the others are evaluated if stored")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars")
def claims(patterns, slow, store, executor, workers, use_committed, no_run, dry_run, as_json,
           write, out_dir, list_only, device, shard, quiet):
    """Check the papers' claims: run each claim's runs (reusing stored ones) and compare its
    statistic with the paper's value. Exit status 1 when a claim fails or does not reproduce."""
    piece = parse_shard(shard)
    registry = get_registry()
    every = [e.obj for e in registry.entries["claims"].values()]
    if list_only:
        click.echo(tabulate([(c.name + (" (slow)" if c.slow else ""), c.source, c.statement,
                              registry.entries["claims"][c.name].plugin) for c in every],
                            headers=["claim", "source", "says", "plugin"]))
        return
    names = [p.strip() for pattern in patterns for p in pattern.split(",") if p.strip()]
    chosen = select(every, names)
    named = set(names)
    # Without --slow, a slow claim is run only when named in full; the others are listed as
    # "not run" when selected by -k, and left out otherwise.
    to_run = [c for c in chosen if slow or not c.slow or c.name in named]
    shown = chosen if (names or slow or write) else to_run
    if not shown:
        raise UserError("no claims installed; `grokbench plugins` lists what is installed")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    registry.get("executors", executor)
    if device is not None:
        check_name(device)
        if not (dry_run or no_run):
            check_device(torch.device(device))  # now, not in the first run's worker
    if not (dry_run or no_run):
        db = Store(store)
        try:
            db.check_writable()  # now, not after the first claim's runs have trained
        finally:
            db.close()
    results = check_claims(shown, registry=registry, store_path=store,
                           run=[] if (dry_run or no_run) else to_run, executor=executor,
                           workers=workers, progress=not quiet and not as_json,
                           use_committed=use_committed, project=dry_run or no_run or write,
                           device=device, shard=piece, selected=to_run,
                           say=None if quiet else (lambda text: click.echo(text, err=True)))
    if dry_run:
        rows = [(r.claim.name + (" (slow)" if r.claim.slow else ""), r.runs, r.stored_before,
                 len(r.new_here) if r.run_ids else "–",
                 "–" if r.projected_hours is None else f"{r.projected_hours:.2f}",
                 "–" if r.projected_hours is None else r.calibrated_runs,
                 r.reason if r.status == "not available" else "")
                for r in results]
        new = f"new in shard {piece[0]}/{piece[1]}" if piece else "new"
        click.echo(tabulate(rows, headers=["claim", "runs", "stored", new, "CPU-hours",
                                           "of them calibrated", ""]))
        total = sum(r.projected_hours or 0.0 for r in results)
        calibrated = sum(r.calibrated_runs for r in results)
        missing = [cfg for r in results for cfg in r.new_here]
        click.echo(f"projected: {total:.2f} CPU-hours for the new runs, at most where a run is "
                   "projected from recorded timings (runs that reach their target stop early "
                   "only where a claim sets early_stop)"
                   + (f"; {calibrated} of them from a 20-step calibration, {CALIBRATION_CAVEAT}"
                      if calibrated else "")
                   + "; wall time ≈ that / workers"
                   + resume.saved_note(store or default_store_path(), missing, projected=True))
        return
    if write:
        db_name = Path(store).name if store else default_store_path().name
        source = (f"the results store `{db_name}`"
                  + (" and the committed suites' raw results" if use_committed else "")
                  + (" (written with --no-run: the claims computed so far)" if no_run else ""))
        written = write_report(results, Path(out_dir) if out_dir else suites_dir(),
                               store_path=store, store=source,
                               command=REPORT_COMMAND + (" --use-committed" if use_committed else ""),
                               versions=f"grokbench {__version__}")
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    if as_json:
        click.echo(json.dumps(to_jsonable_results(results), ensure_ascii=False))
    else:
        click.echo(tabulate(table_rows(results), headers=HEADERS, tablefmt="simple_grid",
                            maxcolwidths=[24, 30, 60, 16, 10, 9]))
    bad = [r for r in results if r.status in BAD]
    if bad:
        click.echo(f"{len(bad)} claim(s) did not hold here: "
                   + ", ".join(f"{r.claim.name} ({result_text(r)})" for r in bad), err=True)
        sys.exit(1)
