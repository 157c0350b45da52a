"""The leaderboard tables' columns, declared once, and the formatters of their cells.

Markdown and the web page show the cells of :data:`TASK_COLUMNS` and :data:`OVERALL_COLUMNS`
under their headers (the page sorts by each column's sort value), the CSV files write their CSV
fields, and the JSON holds the rows the columns read, as :mod:`grokbench.leaderboard` computed
them. Adding a column is one :class:`Column` here plus its computation there (README.md,
"Adding a leaderboard column").

The formatters are also what ``grokbench run`` and ``show`` print a run's scores with
(:mod:`grokbench.commands.common` words a miss out, where a table cell shows ∞).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


# -- formatters -----------------------------------------------------------------------------------

def _number(value) -> str:
    # a whole number in full (a step count of 1 234 567 is not 1.23457e+06), any other to 6
    # significant digits
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def fmt_steps(value, resolution=None, missed: str = "∞") -> str:
    """A step count ('n/a': not measured; ``missed`` when never reached) with its evaluation
    resolution as (±N)."""
    if value is None:
        return "n/a"
    if math.isinf(value):
        return missed
    return _number(value) + (f" (±{_number(resolution)})" if resolution else "")


def fmt_num(value, digits: int = 3, significant: bool = False) -> str:
    """A number to ``digits`` decimals, or (``significant``) a float to ``digits`` significant
    digits and any other number as it is; 'n/a' when unknown (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if significant:
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
    return f"{value:.{digits}f}"


def fmt_setting(value) -> str:
    """A setting's value as row labels, settings lines and claims show it."""
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)


def fmt_onset(value, resolution=None) -> str:
    return "none" if value is not None and math.isinf(value) else fmt_steps(value, resolution)


def fmt_range(pair) -> str:
    lo, hi = pair
    return "n/a" if lo is None else f"{fmt_steps(lo)}–{fmt_steps(hi)}"


def fmt_solved(row) -> str:
    text = f"{row['solved']}/{row['runs']}"
    expected = row.get("expected_runs")
    if expected and row["runs"] < expected:
        text += f" ({row['runs']}/{expected} seeds run)"
    return text


def fmt_sensitivity(row) -> str:
    seen = row.get("codepaths") or {}
    if not seen:
        return "n/a"
    if not row.get("sensitive"):
        return f"stable ({len(seen)} code paths)"
    solved = sorted({v["solved"] for v in seen.values()})
    medians = sorted({v["steps_to_generalize"] for v in seen.values()})
    runs = max(v["runs"] for v in seen.values())
    solved_text = f"{solved[0]}–{solved[-1]}" if len(solved) > 1 else f"{solved[0]}"
    median_text = fmt_steps(medians[0]) + (f"–{fmt_steps(medians[-1])}" if len(medians) > 1 else "")
    return f"**fragile**: solved {solved_text}/{runs}, median {median_text}"


def fmt_rmst(row) -> str:
    """RMST with its 95 % interval, in steps (n/a: no survival view, e.g. a tuned trial row)."""
    if row.get("rmst") is None:
        return "n/a"
    low, high = row["rmst_ci"]
    return f"{row['rmst']:.0f} ({low:.0f}–{high:.0f})"


def fmt_speedup(row) -> str:
    if row["speedup"] is None:
        return "n/a"
    return f"{row['speedup']:.2f}× ({row['speedup_tasks']} task" + ("s)" if row["speedup_tasks"] != 1 else ")")


def fmt_tasks_solved(row) -> str:
    text = f"{row['tasks_solved']}/{row['tasks']}"
    if row.get("incomplete_tasks"):  # not ranked: see leaderboard.overall_table
        text += f" (not yet complete: {', '.join(row['incomplete_tasks'])})"
    return text


def fmt_significant(row) -> str:
    return "n/a" if row.get("significantly_sooner") is None else \
        f"{row['significantly_sooner']} / {row['significantly_later']}"


#: how a row of a method added with `leaderboard --add-method` is marked (grokbench.byom)
ADDED_MARK = " †"


def marked(method: str, table: dict) -> str:
    return method + (ADDED_MARK if method in table.get("added", ()) else "")


# -- columns --------------------------------------------------------------------------------------

Row = dict
Table = dict


@dataclass(frozen=True)
class Column:
    """One column of a leaderboard table.

    ``key``: the row's entry it shows (by default its cell, sort value and CSV value).
    ``header``: its header in Markdown and on the page ({ref}: the reference method); None for a
    column only the CSV has. ``cell(row, table)``: the cell's text. ``sort(row)``: what the page
    sorts the column by (a number numerically, ∞ after every finite one, None last). ``csv``: its
    CSV field names, valued ``row.get(name)`` unless ``csv_values(row, table)`` gives them.
    ``shown(table)``: in tables where this holds only (say, when the board has a survival view)."""
    key: str
    header: str | None
    cell: Callable[[Row, Table], Any] | None = None
    sort: Callable[[Row], Any] | None = None
    csv: tuple[str, ...] = ()
    csv_values: Callable[[Row, Table], tuple] | None = None
    shown: Callable[[Table], bool] | None = None

    def shows(self, table: Table) -> bool:
        return self.shown is None or self.shown(table)


def _has_codepaths(table: Table) -> bool:
    return any("codepaths" in r for r in table["rows"])


#: a task table's columns: one row per method (leaderboard.method_row, task_table, add_survival,
#: add_sensitivity), in the order of the Markdown, the page and the CSV
TASK_COLUMNS = [
    Column("task", None, csv=("task",), csv_values=lambda r, t: (t["task"],)),
    Column("rank", "rank", csv=("rank",)),
    Column("method", "method", cell=lambda r, t: marked(r["method"], t), csv=("method",)),
    Column("solved", "solved", cell=lambda r, t: fmt_solved(r), csv=("runs", "solved")),
    Column("steps_to_generalize", "median steps-to-generalize",
           cell=lambda r, t: fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"]),
           csv=("steps_to_generalize", "steps_to_generalize_resolution")),
    Column("ci", "median CI", cell=lambda r, t: fmt_range(r["ci"]), sort=lambda r: r["ci"][0],
           csv=("ci_low", "ci_high", "ci_coverage"),
           csv_values=lambda r, t: (r["ci"][0], r["ci"][1], r.get("ci_coverage"))),
    Column("grokking_delay", "median delay", cell=lambda r, t: fmt_steps(r["grokking_delay"]),
           csv=("grokking_delay",)),
    # no SC fraction recorded (max_sc None): no onset to show, 'n/a'; never collapsed: 'none'
    Column("collapse_onset", "median collapse onset",
           cell=lambda r, t: ("n/a" if r.get("max_sc") is None else
                              fmt_onset(r["collapse_onset"], r["collapse_onset_resolution"])),
           sort=lambda r: None if r.get("max_sc") is None else r["collapse_onset"],
           csv=("collapse_onset", "sc_threshold", "max_sc"),
           csv_values=lambda r, t: (r.get("collapse_onset"), t["meta"]["sc_threshold"], r.get("max_sc"))),
    Column("final_test_acc", "final test acc", cell=lambda r, t: fmt_num(r["final_test_acc"]),
           csv=("final_test_acc",)),
    Column("wall_time", "median wall s", cell=lambda r, t: fmt_num(r["wall_time"], 1), csv=("wall_time",)),
    Column("seeds", None, csv=("steps", "seeds"),
           csv_values=lambda r, t: (t["meta"]["steps"], " ".join(map(str, r["seeds"])))),
    Column("rmst", "RMST (95 % CI)", cell=lambda r, t: fmt_rmst(r), csv=("rmst", "rmst_low", "rmst_high"),
           csv_values=lambda r, t: (r.get("rmst"), *(r.get("rmst_ci") or [None, None]))),
    Column("rank_group", "rank group", cell=lambda r, t: r.get("rank_group") or "n/a", csv=("rank_group",)),
    # the embedding's key Fourier frequencies when the run generalized (Nanda et al. 2023: a
    # few carry most of the energy): modular tasks with the `fourier` metric recorded only
    Column("key_freqs_at_generalization", "key frequencies at generalization",
           cell=lambda r, t: fmt_num(r.get("key_freqs_at_generalization"), 3, significant=True),
           csv=("key_freqs_at_generalization",),
           shown=lambda t: any(r.get("key_freqs_at_generalization") is not None for r in t["rows"])),
    # runs stopped by a NaN or inf loss (censored at that step): only where some run was
    Column("nonfinite_runs", "NaN/inf stops", csv=("nonfinite_runs",),
           shown=lambda t: any(r.get("nonfinite_runs") for r in t["rows"])),
    Column("sensitive", "numerical sensitivity", cell=lambda r, t: fmt_sensitivity(r),
           sort=lambda r: int(bool(r.get("sensitive"))) if "codepaths" in r else None,
           shown=_has_codepaths),
]

#: the across-tasks table's columns: one row per method (leaderboard.overall_table, add_survival)
OVERALL_COLUMNS = [
    # an unranked (incomplete) method: '–', sorted after the ranked ones
    Column("rank", "rank", cell=lambda r, t: "–" if r["rank"] is None else r["rank"],
           sort=lambda r: 1e9 if r["rank"] is None else r["rank"], csv=("rank",)),
    Column("method", "method", cell=lambda r, t: marked(r["method"], t), csv=("method",)),
    Column("score", "profile score B", cell=lambda r, t: f"{r['score']:.3f}", csv=("score",)),
    Column("tasks_solved", "tasks solved", cell=lambda r, t: fmt_tasks_solved(r),
           csv=("tasks_solved", "tasks")),
    Column("speedup", "speedup vs {ref}", cell=lambda r, t: fmt_speedup(r), csv=("speedup", "speedup_tasks")),
    Column("solved_where_reference_missed", "only it solved / only {ref} solved",
           cell=lambda r, t: f"{r['solved_where_reference_missed']} / {r['missed_where_reference_solved']}",
           sort=lambda r: r["solved_where_reference_missed"] - r["missed_where_reference_solved"],
           csv=("solved_where_reference_missed", "missed_where_reference_solved")),
    Column("significantly_sooner", "significantly sooner / later", cell=lambda r, t: fmt_significant(r),
           csv=("significantly_sooner", "significantly_later"),
           shown=lambda t: bool(t.get("significance"))),  # where the board has its survival view
    # the stratified test over the tasks (leaderboard.across_task_pairs); boards built before it
    # have no such counts
    Column("sooner_across", "sooner / later over the tasks",
           cell=lambda r, t: "n/a" if r.get("sooner_across") is None else
           f"{r['sooner_across']} / {r['later_across']}",
           csv=("sooner_across", "later_across"),
           shown=lambda t: "across_pairs_tested" in (t.get("significance") or {})),
]


#: the numerical-sensitivity table (leaderboard: "sensitivity", one row per method): the
#: Markdown and the page
SENSITIVITY_COLUMNS = [
    Column("method", "method"),
    Column("sensitive", "fragile task cells", cell=lambda r, t: f"{r['sensitive']}/{r['cells']}",
           sort=lambda r: r["sensitive"] / max(r["cells"], 1)),
    Column("tasks", "where", cell=lambda r, t: ", ".join(r["tasks"]) or "–",
           sort=lambda r: ", ".join(r["tasks"])),
]


def settings_short(settings) -> str:
    """A tuned trial's drawn settings ('recipe': none were searched)."""
    return ", ".join(f"{k}={fmt_setting(v)}" for k, v in sorted(settings.items())) or "recipe"


def fmt_best_trials(row) -> str:
    return "; ".join(f"s{b['study_seed']}: trial {b['trial']} (seed {b['seed']}"
                     + (f", {settings_short(b['settings'])}" if b["settings"] else "")
                     + ")" for b in row["best"] if math.isfinite(b["steps_to_generalize"])) or "–"


def fmt_trials_solved(row) -> str:
    return (f"{row['trials_solved']}/{row['trials_run']}"
            + (f" ({row['trials_run']}/{row['trials_expected']} run)"
               if row["trials_run"] < row["trials_expected"] else ""))


#: a tuned suite's task table (leaderboard.tuned_tables: one row per method, over its studies)
TUNED_COLUMNS = [
    Column("rank", "rank"),
    Column("method", "method"),
    Column("solved", "studies solved", cell=lambda r, t: f"{r['solved']}/{r['studies']}"),
    Column("steps_to_generalize", "median best steps-to-generalize",
           cell=lambda r, t: fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"])),
    Column("ci", "median CI", cell=lambda r, t: fmt_range(r["ci"])),
    Column("trials_solved", "trials solved", cell=lambda r, t: fmt_trials_solved(r)),
    Column("best", "best trial", cell=lambda r, t: fmt_best_trials(r)),
    Column("space", "search space"),
]

#: a tuned task table's every trial (its "trials")
TRIAL_COLUMNS = [
    Column("method", "method"),
    Column("study_seed", "study seed"),
    Column("trial", "trial"),
    Column("seed", "run seed"),
    Column("settings", "settings", cell=lambda r, t: settings_short(r["settings"])),
    Column("steps_to_generalize", "steps-to-generalize",
           cell=lambda r, t: fmt_steps(r["steps_to_generalize"], r["resolution"])),
]


def headers(columns: list[Column], table: Table, ref: str = "reference") -> list[str]:
    return [c.header.format(ref=ref) for c in columns if c.header is not None and c.shows(table)]


def cells(columns: list[Column], row: Row, table: Table) -> list:
    return [c.cell(row, table) if c.cell else row[c.key]
            for c in columns if c.header is not None and c.shows(table)]


def sort_values(columns: list[Column], row: Row, table: Table) -> list:
    return [c.sort(row) if c.sort else row.get(c.key)
            for c in columns if c.header is not None and c.shows(table)]


def csv_fields(columns: list[Column], tables: Iterable[Table]) -> list[str]:
    """The CSV header of these tables (written into one file): a column shown by any of them."""
    tables = list(tables)
    return [name for c in columns if c.shown is None or any(c.shows(t) for t in tables)
            for name in c.csv]


def csv_row(columns: list[Column], row: Row, table: Table) -> dict:
    out: dict = {}
    for c in columns:
        if c.csv and c.shows(table):
            out.update(zip(c.csv, c.csv_values(row, table) if c.csv_values else
                           (row.get(name) for name in c.csv)))
    return out
