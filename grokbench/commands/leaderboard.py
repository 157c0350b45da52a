"""``grokbench leaderboard``: build a suite's (or a store's) leaderboard, print it, write its
files, or check the committed ones."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..byom import fairness_warnings, provenance
from ..check import check_committed
from ..config import run_id, stored_method_name
from ..data import atomic_write_bytes, output_file
from ..errors import UserError
from ..grid import expand, load_suite, parse_seeds, suites_dir
from ..leaderboard import (REFERENCE, build, codepath,
                           suite_commands)
from ..records import read_records, store_pool, suite_records, with_committed
from ..registry import get_registry
from ..render import to_csv, to_json, to_markdown, write_leaderboard
from ..store import Store, default_store_path
from ..tuning import plan_trials, spaces_of
from ..webpage import curve_groups, require_plotly, to_html
from .common import method_list, store_option


@click.command()
@click.option("--suite", default=None, help="a named suite (leaderboards/NAME.toml), e.g. quick")
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="build from a raw results file (e.g. leaderboards/quick.results.jsonl) instead of the store")
@store_option
@click.option("--task", "tasks", multiple=True, help="only these tasks (repeatable)")
@click.option("--method", "methods", multiple=True,
              help="only these methods: repeat or comma-separate (a+b is one combination)")
@click.option("--reference", default=None, help="reference method for the speedup (default: the suite's, else wd)")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json", "html"]), default="markdown",
              show_default=True, help="what to print; html writes a self-contained web page NAME.html "
              "to --out-dir instead (tables, curves, profiles; needs grokbench[html])")
@click.option("--write", is_flag=True, help="write NAME.md/.json/.csv/.overall.csv/.profile.png and the raw "
              "NAME.results.jsonl to --out-dir")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="where --write writes and --check reads the committed tables (default: leaderboards/)")
@click.option("--check", is_flag=True, help="compare with the committed tables; exit 1 with the differences")
@click.option("--allow-missing", is_flag=True,
              help="rank a suite whose store lacks some runs (a suite built in pieces); they are listed")
@click.option("--codepath-store", "codepath_stores", multiple=True, type=click.Path(dir_okay=False),
              help="a store with the same suite run under another CPU code path (e.g. "
                   "ATEN_CPU_CAPABILITY=avx2): adds the numerical-sensitivity column (repeatable)")
@click.option("--add-method", "added", multiple=True,
              help="rank a method of yours against the suite's committed board: the store's runs "
                   "of M at the suite's settings beside its committed raw results, M's rows marked "
                   "† (repeatable)")
@click.option("--seeds", "seed_text", default=None,
              help="only these seeds, e.g. 0-2: a suite's board at fewer seeds than it has (to "
                   "compare; not with --check, and --write only with --out-dir)")
@click.option("--rerun-reference", is_flag=True,
              help="with --add-method: also show the store's runs of the reference method at the "
                   "suite's settings, as 'REF (this machine)' rows beside the committed ones")
def leaderboard(suite, from_file, store, tasks, methods, reference, fmt, write, out_dir, check,
                allow_missing, codepath_stores, seed_text, added, rerun_reference):
    """Leaderboards: a table per task and one across tasks, from the store or a raw file."""
    spec = load_suite(suite) if suite else None
    if check and not suite:
        raise UserError("--check compares a suite's committed tables: give --suite NAME")
    seeds = parse_seeds(seed_text) if seed_text else None
    if seeds is not None:
        # with --add-method it is the method's place at the seeds it ran (Lion's 3 on the
        # 5-seed full board), written as NAME+M files, never over the suite's own board
        if check or (write and not out_dir and not added):
            raise UserError("--seeds builds a board from some of the seeds, to compare with the "
                            "committed one: drop --check, and give --write an --out-dir of its "
                            "own (the committed tables are the whole suite's)")
        if spec:  # the suite at these seeds: its grid, its expected runs and missing ones
            note = (f"Built with --seeds {seed_text}: only seeds {', '.join(map(str, seeds))} of "
                    f"the suite's {', '.join(map(str, spec['seeds']))}.")
            spec = {**spec, "seeds": seeds,
                    "budget_note": (spec.get("budget_note", "") + "\n\n" + note).strip()}
    if added or rerun_reference:
        return added_methods_board(spec, suite, added, rerun_reference, from_file, store, tasks,
                                   reference, fmt, write, out_dir, check, seed_text)
    name = suite or "store"
    out = Path(out_dir) if out_dir else suites_dir()
    if (write or fmt == "html") and not check:  # a folder that cannot be written: before any work
        output_file(out / f"{name}.md", "choose another folder with --out-dir DIR")
    missing, not_applicable, codepaths = [], [], {}
    if from_file:
        pool = {r["run_id"]: r for r in read_records(from_file)}
        source = str(from_file)
    else:
        # a suite's missing store is a suite with every run missing (the error names the sweep
        # that makes them); no store is created either way
        db = Store(store, readonly=True, missing_ok=bool(spec))
        try:
            pool = store_pool(db)
        finally:
            db.close()
        source = str(db.path)
    raw_path = out / f"{name}.results.jsonl"
    if spec and write and not from_file and raw_path.exists():
        pool = with_committed(pool, raw_path)  # a suite built in pieces: the rest is committed
    if spec:
        records, missing, not_applicable = suite_records(get_registry(), spec, pool, source,
                                                         allow_missing)
        cells = {(r["task"], r["method"], r["seed"]) for r in records}
        for path in codepath_stores:
            db = Store(path, readonly=True)
            try:  # matched by task, method and seed: the same runs, whatever ids they had
                recs = [r for r in store_pool(db).values()
                        if (r["task"], r["method"], r["seed"]) in cells]
            finally:
                db.close()
            if recs:
                codepaths[", ".join(sorted({codepath(r) for r in recs}))] = recs
        codepaths_file = out / f"{name}.codepaths.jsonl"
        if not codepath_stores and not (check and not from_file) and codepaths_file.exists():
            for rec in read_records(codepaths_file, unique=False):
                if (rec["task"], rec["method"], rec["seed"]) in cells:
                    codepaths.setdefault(codepath(rec), []).append(rec)
    else:
        records = list(pool.values())
        if seeds is not None:
            records = [r for r in records if r["seed"] in seeds]
    if tasks:
        records = [r for r in records if r["task"] in tasks]
    if methods:
        methods = method_list(methods)  # repeated or a,b; a+b is one combination
        records = [r for r in records if r["method"] in methods]
    if not records:
        raise UserError(f"no runs to rank in {source}"
                        + (" for the given --task/--method" if tasks or methods else
                           "; run some first (grokbench run / grokbench sweep)"))
    description = ((spec.get("description", "") + "\n\n" + spec.get("budget_note", "")).strip()
                   if spec else "")
    commands = suite_commands(name) if spec else {
        "Regenerate": "grokbench leaderboard " + (f"--from {from_file}" if from_file else f"--store {source}")}
    tuning = None
    if spec and spec.get("tuning"):  # a tuned suite: its trials, grouped into studies
        tuning = (plan_trials(get_registry(), spec, []), spaces_of(get_registry(), spec),
                  spec["tuning"])
    lb = build(records, name, description, reference or (spec or {}).get("reference", REFERENCE),
               commands=commands, missing_configs=missing,
               not_applicable=not_applicable,
               seeds=spec["seeds"] if spec and not tuning else None,
               codepaths=codepaths or None, tuning=tuning)
    if spec:
        lb["figure"] = f"{name}.profile.png"
        if lb["overall"].get("significance"):  # the survival view's Kaplan–Meier panels
            lb["km_figure"] = f"{name}.km.png"

    if check:
        problems = check_committed(lb, out, name, from_file)
        if problems:
            click.echo(f"leaderboard {name}: the tables built from {source} disagree with the "
                       f"committed ones in {out} ({len(problems)} differences):", err=True)
            for line in problems:
                click.echo(f"  - {line}", err=True)
            click.echo(f"Tolerance: {lb['tolerance']}.\nIf the change is intended, regenerate: "
                       f"{suite_commands(name)['Regenerate (runs, then tables)']}", err=True)
            sys.exit(1)
        click.echo(f"leaderboard {name}: OK, {len(lb['tasks'])} task tables and the cross-task "
                   f"table built from {source} agree with {out / (name + '.json')} "
                   f"({lb['runs']} runs; tolerance: {lb['tolerance']})")
        return
    if fmt == "html":
        require_plotly()  # the missing extra is reported before the store is read for curves
        curves, note, differ = page_curves(records, from_file, store, name if spec else None)
        config_text = (suites_dir() / f"{name}.toml").read_text(encoding="utf-8") if spec else ""
        page = to_html(lb, curve_groups(lb, records, curves, differ, missing), note, config_text,
                       page_command(name if spec else None, from_file, store, out_dir, tasks, methods,
                                    reference, lb))
    if write:
        written = write_leaderboard(lb, records, out, name, write_raw=True,
                                    codepaths=[r for recs in codepaths.values() for r in recs])
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    if fmt == "html":
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.html"
        data = page.encode("utf-8")
        atomic_write_bytes(path, lambda fh: fh.write(data))
        os.chmod(path, 0o644)  # the temporary file was private; the page is for everyone
        click.echo(f"wrote {path} ({len(data) / 1e6:.1f} MB)", err=True)
        return
    text = {"markdown": to_markdown, "csv": to_csv, "json": to_json}[fmt](lb)
    click.echo(text, nl=False)


def added_methods_board(spec, suite, added, rerun_reference, from_file, store, tasks, reference,
                        fmt, write, out_dir, check, seed_text=None):
    """`--add-method M`: the suite's committed raw results (or --from) with the store's runs of
    M at the suite's settings, M's rows marked, where each side ran, and what differs
    (grokbench/byom.py). Written as NAME+M files, never over the suite's own board."""
    if not spec:
        raise UserError("--add-method ranks a method against a suite's committed board: give "
                        "--suite NAME (e.g. --suite full)")
    if check:
        raise UserError("--check compares the suite's own committed board; drop --add-method to "
                        "check it")
    if not added:
        raise UserError("--rerun-reference goes with --add-method M")
    registry = get_registry()
    added = [stored_method_name(registry, m) for m in method_list(added)]
    clash = [m for m in added if m in spec["methods"]]
    if clash:
        raise UserError(f"{clash[0]!r} is one of suite {suite}'s methods already; --add-method "
                        "ranks a method the suite does not have")
    committed_path = Path(from_file) if from_file else suites_dir() / f"{suite}.results.jsonl"
    if not committed_path.exists():
        raise UserError(f"suite {suite!r} has no committed raw results {committed_path}; build its "
                        f"board first (grokbench sweep --suite {suite}, then leaderboard --write)")
    pool = {r["run_id"]: r for r in read_records(committed_path)}
    db = Store(store, readonly=True, missing_ok=True)  # no store: no runs of M (said below)
    try:
        stored = store_pool(db)
    finally:
        db.close()
    pool.update({i: r for i, r in stored.items() if r["method"] in added})
    ref = reference or spec.get("reference", REFERENCE)
    spec = {**spec, "methods": list(spec["methods"]) + added}
    records, missing, not_applicable = suite_records(registry, spec, pool, str(committed_path),
                                                     allow_missing=True)
    for m in added:
        lacking = [c for c in missing if c["method"] == m]
        have = sum(r["method"] == m for r in records)
        if lacking:
            click.echo(f"{m}: {len(lacking)} of its {len(lacking) + have} runs at the suite's settings "
                       f"are not in {db.path}; `grokbench sweep --suite {suite} --method {m} "
                       f"--store {db.path}` runs them (`--dry-run` first: it projects their cost)",
                       err=True)
        if not have:
            raise UserError(f"no runs of {m} at suite {suite}'s settings in {db.path}; run them "
                            f"first: grokbench sweep --suite {suite} --method {m} --store {db.path}")
    marked = list(added)
    if rerun_reference:
        ref_spec = {**spec, "methods": [ref]}
        ids = {run_id(c) for c in expand(registry, ref_spec, [])}
        mine = f"{ref} (this machine)"
        here = [{**r, "method": mine, "config": {**r["config"], "method": mine}}
                for i, r in stored.items() if i in ids]
        if not here:
            click.echo(f"no runs of {ref} at the suite's settings in {db.path} to compare: "
                       f"`grokbench sweep --suite {suite} --method {ref} --store {db.path}`", err=True)
        records += here
        marked.append(mine)
    if tasks:
        records = [r for r in records if r["task"] in tasks]
    others = [c for c in missing if c["method"] not in added]
    warnings = fairness_warnings(records, marked, ref)
    lines = provenance(records, marked)
    description = ((spec.get("description", "") + "\n\n" + spec.get("budget_note", "")).strip()
                   # "their runs", not "the store's": with --from a submission's file holds them
                   + f"\n\nRows marked † were added with `--add-method` ({', '.join(marked)}): their "
                   f"runs at the suite's settings, beside the committed raw results of "
                   f"{committed_path.name}. Where each method's runs ran: " + "; ".join(lines)
                   + (". Differences that can move results: " + " ".join(warnings) if warnings
                      else ". The added runs ran on the same device, code path and versions as "
                           "the committed reference runs."))
    name = "+".join([suite, *added])
    rebuild = (f"grokbench leaderboard --suite {suite} " + " ".join(f"--add-method {m}" for m in added)
               + (" --rerun-reference" if rerun_reference else "")
               + (f" --seeds {seed_text}" if seed_text else ""))
    lb = build(records, name, description, ref, commands={"Rebuild": rebuild},
        missing_configs=others, not_applicable=not_applicable, seeds=spec["seeds"])
    for table in [*lb["tasks"], lb["overall"]]:
        table["added"] = marked
    lb["added_methods"] = marked
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    out = Path(out_dir) if out_dir else Path(".")
    if write:
        written = write_leaderboard(lb, records, out, name, write_raw=True)
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
        return
    if fmt == "html":
        require_plotly()
        page = to_html(lb, curve_groups(lb, records, {}, {}, others),
                       "Curves from the raw results' compact curves, where they keep them.",
                       "", rebuild + " --format html")
        path = out / f"{name}.html"
        atomic_write_bytes(path, lambda fh: fh.write(page.encode("utf-8")))
        click.echo(f"wrote {path}", err=True)
        return
    text = {"markdown": to_markdown, "csv": to_csv, "json": to_json}[fmt](lb)
    click.echo(text, nl=False)


def page_curves(records, from_file, store, suite):
    """{run id: curve} for the web page's curve figures, a note saying where they come from, and
    {run id: the store's scores} of the runs that scored otherwise in the store than in the raw
    results (the page marks their curves). Raw results files keep each run's scores, not its
    curve: built from one, the curves come from the store (``--store`` or the default one) by run
    id, i.e. the same config and seed."""
    if all(r.get("curve") for r in records):  # raw results keep compact curves since 88ac137
        where = f"the raw results {from_file}" if from_file else "the results store"
        return {}, (f"Curves of {len(records)} of the {len(records)} runs, read from {where} "
                    "(each run's evaluations, at most 200 of them)."), {}
    path = Path(store) if store else default_store_path()
    sweep = f"grokbench sweep --suite {suite}" if suite else "grokbench sweep (the same runs)"
    if from_file and not path.exists():
        return {}, (f"Test-accuracy curves are not shown: {from_file} holds each run's scores, not "
                    f"its curve, and there is no results store {path}; `{sweep}` stores the same "
                    "runs (same ids), then build this page again."), {}
    db = Store(path, readonly=True)
    try:
        stored = {r["run_id"]: db.get(r["run_id"]) for r in records
                  if not r.get("curve") and db.has(r["run_id"])}
    finally:
        db.close()
    curves = {i: row["curve"] for i, row in stored.items()}
    if not curves:
        return {}, (f"Test-accuracy curves are not shown: none of these runs is in the results store "
                    f"{path}; `{sweep}` stores them (same ids), then build this page again."), {}
    note = (f"Curves of {len(curves)} of the {len(records)} runs, read from the results store"
            + (f" by run id (same config and seed; the tables come from {from_file})" if from_file else ""))
    differ: dict = {}
    if from_file:
        by_id = {r["run_id"]: r for r in records}
        differ = {i: row["scores"] for i, row in stored.items()
                  if any(row["scores"].get(k) != by_id[i]["scores"].get(k)
                         for k in ("steps_to_fit", "steps_to_generalize", "final_test_acc"))}
        same = len(stored) - len(differ)
        note += (f"; {same} of them score exactly as in the raw results"
                 + ("" if same == len(curves) else
                    " (the others were run again and scored differently: their curves are not "
                    "exactly those of the tables' runs)"))
    return curves, note + ".", differ


def page_command(suite, from_file, store, out_dir, tasks, methods, reference, lb) -> str:
    """The command that regenerates the web page (the store is shown only when one was named:
    a sweep fills whichever store with the same run ids)."""
    opts = "".join(f" --task {t}" for t in tasks) + "".join(f" --method {m}" for m in methods)
    opts += (f" --reference {reference}" if reference else "") + (f" --out-dir {out_dir}" if out_dir else "")
    store_opt = f" --store {store}" if store else ""
    if not suite:
        return dict(lb["commands"])["Regenerate"] + opts + " --format html"
    return (f"grokbench sweep --suite {suite} --executor processes --workers 2{store_opt} && "
            f"grokbench leaderboard --suite {suite}" + (f" --from {from_file}" if from_file else "")
            + store_opt + opts + " --format html")
