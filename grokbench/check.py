"""Checking committed leaderboard tables: against fresh tables within the run-to-run variation
of the science (``leaderboard.tolerance_text``; the measurement behind it is in leaderboards/README.md,
"Checking"), against their own raw results, and the Markdown against the JSON it renders."""
from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

from .errors import UserError
from .leaderboard import REFERENCE, build, incomplete_tasks, overall_table
from .records import read_records
from .columns import fmt_range, fmt_steps
from .render import overall_csv, read_json, to_csv, to_json, to_markdown
from .stats import INF, binomial_band
from .webpage import page_digest, tables_html


def compare(committed, fresh) -> list[str]:
    """Where ``fresh`` disagrees with ``committed`` beyond the run-to-run variation that the
    science has (leaderboard.tolerance_text; the measurement behind it is in leaderboards/README.md), one
    readable line each; empty when they agree."""
    diffs = []
    old_tasks = {t["task"]: t for t in committed["tasks"]}
    new_tasks = {t["task"]: t for t in fresh["tasks"]}
    for task in sorted(set(old_tasks) ^ set(new_tasks)):
        diffs.append(f"task {task}: only in the {'committed' if task in old_tasks else 'new'} tables")
    for task in [t for t in old_tasks if t in new_tasks]:
        old_rows = {r["method"]: r for r in old_tasks[task]["rows"]}
        new_rows = {r["method"]: r for r in new_tasks[task]["rows"]}
        for m in sorted(set(old_rows) ^ set(new_rows)):
            diffs.append(f"{task} / {m}: only in the {'committed' if m in old_rows else 'new'} table")
        for m in [m for m in old_rows if m in new_rows]:
            diffs += [f"{task} / {m}: {d}" for d in compare_rows(old_rows[m], new_rows[m])]
    return diffs


def compare_rows(o, n) -> list[str]:
    if o["runs"] != n["runs"]:
        return [f"{n['runs']} runs, committed {o['runs']} (the same seeds must be run)"]
    diffs = []
    lo, hi = binomial_band(o["solved"], o["runs"])
    if not lo <= n["solved"] <= hi:
        diffs.append(f"solved {n['solved']}/{n['runs']}, committed {o['solved']}/{o['runs']} "
                     f"(allowed: {lo}–{hi})")
    res = max(o.get("ci_resolution") or 0, n.get("ci_resolution") or 0)
    ci_lo, ci_hi = o["ci"]
    med = n["steps_to_generalize"]
    if ci_lo is not None and med is not None:
        inside = (med == INF) if ci_lo == INF else (ci_lo - res <= med <= ci_hi + res)
        if not inside:
            diffs.append(f"median steps-to-generalize {fmt_steps(med)}, outside the committed "
                         f"interval {fmt_range(o['ci'])} ± {res:g} (committed median "
                         f"{fmt_steps(o['steps_to_generalize'])})")
    return diffs


def self_consistent(lb) -> list[str]:
    """A committed JSON whose across-task table does not follow from its own task tables was
    edited by hand."""
    again = overall_table(lb["tasks"], lb["overall"]["reference"] or REFERENCE, lb["overall"]["r_max"],
                          incomplete_tasks(lb.get("missing") or []))
    diffs = []
    for a, b in zip(lb["overall"]["rows"], again["rows"]):
        if a["method"] != b["method"] or a["rank"] != b["rank"] or abs(a["score"] - b["score"]) > 1e-9:
            diffs.append(f"across tasks: committed row {a['method']} (rank {a['rank']}, B = "
                         f"{a['score']:.3f}) does not follow from the task tables (expected "
                         f"{b['method']}, rank {b['rank']}, B = {b['score']:.3f})")
    return diffs


def check_committed(fresh, out, name, from_file=None) -> list[str]:
    """Every way the committed files can disagree: with the fresh tables (within tolerance),
    with their own raw results, the Markdown with the JSON, the cross-task with the task tables."""
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    raw_path = out / f"{name}.results.jsonl"
    if not json_path.exists():
        raise UserError(f"no committed tables {json_path}; make them with "
                        f"`grokbench leaderboard --suite {name} --write`")
    try:  # a committed file is input too: damaged or edited, it is named, not a traceback
        committed = read_json(json_path.read_text(encoding="utf-8"))
        problems = [f"fresh vs committed: {d}" for d in compare(committed, fresh)]
        problems += [f"{json_path.name}: {d}" for d in self_consistent(committed)]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        reason = " ".join(str(exc).split())[:100]
        raise UserError(f"{json_path} is not a leaderboard's tables ({type(exc).__name__}: "
                        f"{reason}); restore it (git checkout {json_path}) or regenerate it: "
                        f"grokbench leaderboard --suite {name} --write") from None
    if not md_path.exists():
        problems.append(f"{md_path.name} is missing")
    else:
        expected = to_markdown(committed).splitlines()
        actual = md_path.read_text(encoding="utf-8").splitlines()
        if expected != actual:
            diff = list(difflib.unified_diff(expected, actual, "rendered from " + json_path.name,
                                             md_path.name, lineterm="", n=0))
            problems.append(f"{md_path.name} is not the rendering of {json_path.name} (edited by "
                            "hand?):\n      " + "\n      ".join(diff[:20]))
    # The CSVs render the same tables: a hand edit or a forgotten regeneration shows here too.
    for csv_path, render_csv in ((out / f"{name}.csv", to_csv),
                                 (out / f"{name}.overall.csv", overall_csv)):
        if not csv_path.exists():
            problems.append(f"{csv_path.name} is missing")
        elif csv_path.read_text(encoding="utf-8") != render_csv(committed):
            diff = list(difflib.unified_diff(render_csv(committed).splitlines(),
                                             csv_path.read_text(encoding="utf-8").splitlines(),
                                             "rendered from " + json_path.name, csv_path.name,
                                             lineterm="", n=0))
            problems.append(f"{csv_path.name} is not the rendering of {json_path.name} (edited by "
                            "hand?):\n      " + "\n      ".join(diff[:20]))
    html_path = out / f"{name}.html"
    if html_path.exists():
        # The web page renders NAME.json and carries its digest: a page left behind when the
        # tables were regenerated shows here, and so does a page whose cells were edited.
        digest = hashlib.sha256(json_path.read_bytes()).hexdigest()
        page = html_path.read_text(encoding="utf-8")
        # and its tables, cell for cell: a page whose digest was kept while a cell was edited
        unshown = [table_id for table_id, table in tables_html(committed).items()
                   if table not in page]
        if unshown:
            problems.append(f"{html_path.name} does not show the committed {', '.join(unshown)} "
                            f"of {json_path.name} cell for cell (edited by hand? regenerate it: "
                            f"`grokbench leaderboard --suite {name} --from {raw_path} --format html`)")
        elif page_digest(page) != digest:
            problems.append(f"{html_path.name} does not show the tables of {json_path.name} (regenerate "
                            f"it: `grokbench leaderboard --suite {name} --from {raw_path} --format html`)")
    if not raw_path.exists():
        problems.append(f"{raw_path.name} (the raw results the tables were built from) is missing")
    elif from_file and Path(from_file).resolve() == raw_path.resolve():
        # Rebuilt from the committed raw results: nothing varies, so the tables must be the
        # committed ones exactly (a forgotten regeneration or a scoring change shows here).
        if to_json(fresh) != to_json(committed):
            diff = list(difflib.unified_diff(to_json(committed).splitlines(), to_json(fresh).splitlines(),
                                             json_path.name, "rebuilt from " + raw_path.name,
                                             lineterm="", n=0))
            problems.append(f"{json_path.name} is not what {raw_path.name} gives (regenerate with "
                            f"`grokbench leaderboard --suite {name} --from {raw_path} --write`):"
                            "\n      " + "\n      ".join(diff[:20]))
    else:
        from_raw = build(read_records(raw_path), name, reference=committed["overall"]["reference"]
                         or REFERENCE)
        problems += [f"{raw_path.name} vs {json_path.name}: {d}" for d in compare(committed, from_raw)]
    return problems
