"""Leaderboard tables (:mod:`grokbench.leaderboard`) as text: Markdown, CSV and JSON, and the
files a suite commits (leaderboards/NAME.*)."""
from __future__ import annotations

import csv
import io
import json
import os

from tabulate import tabulate

from .columns import (OVERALL_COLUMNS, SENSITIVITY_COLUMNS, TASK_COLUMNS, TRIAL_COLUMNS,
                      TUNED_COLUMNS, cells, csv_fields, csv_row, fmt_setting, fmt_steps,
                      headers)
from .data import atomic_write_bytes
from .leaderboard import median_ci_phrase, seed_count, survival_text
from .plot import km_figure, profile_figure
from .records import records_jsonl
from .scoring import from_jsonable, to_jsonable


def task_headers(table) -> list[str]:
    return headers(TASK_COLUMNS, table)


def overall_headers(overall, ref) -> list[str]:
    return headers(OVERALL_COLUMNS, overall, ref)


def by_reason(not_applicable) -> dict[str, dict[str, list[str]]]:
    """(task, method, reason) triples grouped as reason -> task -> methods, in first-seen order.

    A suite with a precision axis refuses the same combination for every method of every task
    (mixed precision over a float64 weight dtype, say); listing each pair with its reason made
    one line of ten thousand characters. Grouped, each reason is written once."""
    out: dict[str, dict[str, list[str]]] = {}
    for task, method, reason in not_applicable:
        methods = out.setdefault(reason, {}).setdefault(task, [])
        if method not in methods:
            methods.append(method)
    return out


def not_applicable_text(not_applicable) -> str:
    """One clause per reason: 'task/method (reason)' for a single pair, as before; else the
    methods on the tasks they apply to, then the reason."""
    parts = []
    for reason, tasks in by_reason(not_applicable).items():
        pairs = [(t, m) for t, methods in tasks.items() for m in methods]
        if len(pairs) == 1:
            parts.append(f"{pairs[0][0]}/{pairs[0][1]} ({reason})")
            continue
        method_sets = {tuple(methods) for methods in tasks.values()}
        if len(method_sets) == 1:
            where = f"{', '.join(next(iter(method_sets)))} on {', '.join(tasks)}"
        else:
            where = ", ".join(f"{t}/{m}" for t, m in pairs)
        parts.append(f"{where} ({reason})")
    return "; ".join(parts)


def task_rows(table, not_applicable=()):
    """The cells of a task table's rows, then a row per reason that some of the task's methods
    cannot run, naming those methods."""
    out = [cells(TASK_COLUMNS, r, table) for r in table["rows"]]
    width = len(task_headers(table))
    for reason, tasks in by_reason(not_applicable).items():
        if table["task"] in tasks:
            out.append(["–", ", ".join(tasks[table["task"]]), "n/a", f"not applicable: {reason}"]
                       + [""] * (width - 4))
    return out


def overall_rows(overall):
    return [cells(OVERALL_COLUMNS, r, overall) for r in overall["rows"]]


def censoring_text(table) -> str:
    """The survival view's τ and the runs censored by a NaN/inf stop (every other censored run
    stopped at the budget)."""
    meta = table["meta"]
    if meta.get("rmst_tau") is None:
        return ""
    stops = [f"{r['method']} at step {step:g}" for r in table["rows"]
             for step, why in r.get("censored") or [] if why == "nonfinite"]
    return (f" RMST up to τ = {meta['rmst_tau']:g} steps; censored at a NaN/inf stop: "
            + (", ".join(stops) if stops else "none") + ".")


def _settings_line(settings):
    return ", ".join(f"{k}={fmt_setting(v)}" for k, v in sorted(settings.items()))


def scoring_text(n: int = 3) -> str:
    """How a task table scores its cells, as stated on a board of n seeds a cell."""
    return ("Scoring (after MLCommons AlgoPerf): per method, the median over seeds with a miss "
            "(test target not reached within the budget) counted as ∞; median CI = a "
            "distribution-free confidence interval for that median from the order statistics "
            f"of the seeds (with {n} seeds: {median_ci_phrase(n)}; a miss makes its upper end "
            "∞); (±N) = the evaluation resolution of a step count. Scores are read up to each "
            "run's decision point (fit, target reached and held for 3 evaluations), so runs "
            "stopped there score as if trained to the end.")


def profile_text(overall, ref) -> str:
    """What the across-tasks table's columns mean (Markdown and the web page say the same)."""
    return (f"Performance profile ρ(τ) = fraction of tasks where a method's median steps-to-"
            f"generalize is ≤ τ × the best method's; score B = 1/(r_max − 1) ∫₁^r_max ρ(τ) dτ "
            f"with r_max = {overall['r_max']:g} (1 = best on every task, 0 = never within "
            f"{overall['r_max']:g}× of the best). Speedup: geometric mean over tasks of "
            f"{ref}'s median / the method's, over the tasks both solved; 'only it solved' counts "
            f"the tasks only one of the two solved."
            + (" A method with runs still missing is not ranked (–): its score and counts cover "
               "only the tasks it has run completely, and the best median on each task is "
               "taken over every method that ran it."
               if any(r.get("incomplete_tasks") for r in overall["rows"]) else "")
            + (" " + significance_text(overall) if overall.get("significance") else ""))


def significance_text(overall) -> str:
    """How many of the board's orderings its seeds can back (leaderboard.add_survival)."""
    sig = overall["significance"]
    return (f"Significance ({sig['test']}, family-wise level {sig['level']:g}): "
            f"{sig['task_orderings_significant']} of the {sig['task_orderings']} pairwise orderings "
            f"in the task tables are significant ({sig['pairs_significant']} of the "
            f"{sig['pairs_tested']} pairs tested); {sig['orderings_significant']} of the "
            f"{sig['orderings']} orderings of this table are backed by them (the better-ranked "
            "method significantly sooner on some task and significantly later on none). "
            "'Significantly sooner / later' counts the task pairs in which a method is "
            "significantly sooner / later than another."
            + (f" Over the tasks ({sig['across_test']}): {sig['across_orderings_significant']} "
               f"of the {sig['orderings']} orderings of this table are significant "
               f"({sig['across_pairs_significant']} of the {sig['across_pairs_tested']} pairs "
               "tested); 'sooner / later over the tasks' counts the methods a method is "
               "significantly sooner / later than, all tasks taken together."
               if "across_pairs_tested" in sig else ""))


def _header(lb) -> list[str]:
    """The title, description, versions, commands and what is missing or not applicable."""
    cmds = lb.get("commands") or []
    out = [f"# grokbench leaderboard: {lb['name']}", ""]
    if lb.get("description"):
        out += [lb["description"].strip(), ""]
    out += [f"- {lb['runs']} runs; run with {'; '.join(lb['run_versions']) or 'unknown versions'}"
            + (f" on {'; '.join(lb['machines'])}" if lb.get("machines") else "")
            + f"; tables built by {lb['built_by']}."]
    for what, cmd in cmds:
        out.append(f"- {what}: `{cmd}`")
    if lb.get("missing"):
        cells: dict[tuple[str, str], list] = {}
        for t, m, seed in lb["missing"]:
            cells.setdefault((t, m), []).append(seed)
        out.append(f"- **{len(lb['missing'])} runs of the suite are missing** (failed or not run; "
                   "left out, not counted as misses): "
                   + ", ".join(f"{t}/{m}/seed{'s' if len(seeds) > 1 else ''} "
                               f"{', '.join(map(str, seeds))}" for (t, m), seeds in cells.items()))
    if lb.get("not_applicable"):
        out.append("- Not applicable (not run): " + not_applicable_text(lb["not_applicable"]))
    return out


def to_markdown(lb) -> str:
    if lb.get("tuned"):
        return tuned_markdown(lb)
    overall, ref = lb["overall"], lb["overall"]["reference"] or "reference"
    out = _header(lb)
    n = seed_count(lb["tasks"])
    out += [f"- {scoring_text(n)}"] + ([f"- {survival_text(n=n)}"]
                                        if lb["overall"].get("significance") else [])
    out += [f"- CI tolerance (`--check`): {lb['tolerance']}.", "",
            "## Across tasks", "", profile_text(overall, ref), ""]
    out += [tabulate(overall_rows(overall), headers=overall_headers(overall, ref), tablefmt="github",
                     disable_numparse=True), ""]
    if lb.get("figure"):
        out += [f"![performance profiles ρ(τ)]({lb['figure']})", ""]
    if lb.get("km_figure"):
        out += [f"![Kaplan–Meier: P(generalized by step t) per task]({lb['km_figure']})", ""]
    if lb.get("precision_summary"):
        out += precision_markdown(lb["precision_summary"], [t["task"] for t in lb["tasks"]])
    if lb.get("model_summary"):
        out += model_markdown(lb["model_summary"])
    if lb.get("sensitivity"):
        out += ["## Numerical sensitivity", "",
                "The same runs (same configs and seeds) repeated under other CPU code paths "
                f"(ATen kernels: {', '.join(lb['codepaths'])}, forced with "
                "`ATEN_CPU_CAPABILITY`) round floating point differently. A task cell is "
                "*fragile* when its solved count or median steps-to-generalize changes between "
                "code paths: grokking near its threshold is that sensitive to rounding.", "",
                _table(SENSITIVITY_COLUMNS, lb["sensitivity"]), ""]
    for table in lb["tasks"]:
        meta = table["meta"]
        budget = (f"Budget {meta['steps']} steps, evaluated every {meta['eval_every']} "
                  f"(every step up to 10, then log-spaced)" if meta["steps"] and meta["eval_every"]
                  else "Budget and evaluation schedule differ between rows (see the settings)")
        out += [f"## {table['task']}", "",
                f"{budget}; seeds {', '.join(map(str, meta['seeds']))}; "
                f"generalized = {meta['target']}; fit = {meta['fit_target']}; collapse onset = "
                f"first evaluation with SC fraction ≥ {meta['sc_threshold']} ('none': never)."
                + censoring_text(table), "",
                tabulate(task_rows(table, lb.get("not_applicable") or ()), headers=task_headers(table),
                         tablefmt="github", disable_numparse=True), "",
                "<details><summary>settings</summary>", "",
                f"Shared by every run: {_settings_line(meta['settings'])}", "",
                "Where the runs differ (a setting a row does not list is unset there):", ""]
        for row in table["rows"]:  # in table order (the JSON's dicts have sorted keys)
            settings = meta["row_settings"].get(row["method"])
            if settings:
                out.append(f"- {row['method']}: {_settings_line(settings)}")
        out += ["", "</details>", ""]
        if table.get("pairs"):
            out += ["<details><summary>pairwise tests (exact log-rank)</summary>", "",
                    tabulate(pair_rows(table), headers=PAIR_HEADERS, tablefmt="github",
                             disable_numparse=True), "", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def precision_markdown(summary, tasks) -> list[str]:
    """The numerics board's per-method summary (leaderboard.precision_summary)."""
    order = " < ".join(summary["order"])
    out = ["## Lowest precision that solves", "",
           "Per method and task: the least precise arithmetic in which a majority of the seeds "
           f"generalize (least precise first: {order}; mixed: autocast over float32 master "
           "weights), and, after *fails*, any more precise one in which they do not. 'none': no "
           "arithmetic tried solves it. The task tables give every cell's solved count, median "
           "steps, collapse onset and NaN/inf stops.", ""]
    rows = []
    for row in summary["rows"]:
        texts = []
        for task in tasks:
            cell = row["tasks"].get(task)
            if cell is None:
                texts.append("–")
                continue
            text = cell["lowest"] or "none"
            if cell["fails_above"]:
                text += f" (fails: {', '.join(cell['fails_above'])})"
            texts.append(text)
        rows.append([row["method"], *texts])
    return out + [tabulate(rows, headers=["method", *tasks], tablefmt="github", disable_numparse=True), ""]


def model_markdown(summary) -> list[str]:
    """A board over several models: each method's result on each (leaderboard.model_summary)."""
    out = ["## Does the result depend on the model?", "",
           "Per task, each method's solved seeds and median steps-to-generalize on each model "
           "(∞: a majority of the seeds did not generalize within the budget), and the slowest "
           "model's median over the fastest's among the models where the method solves the task. "
           "A method whose row changes much across models measures its model as much as itself.",
           ""]
    for task in summary["tasks"]:
        rows = []
        for row in task["rows"]:
            cells_ = []
            for model in task["models"]:
                c = row["models"].get(model)
                cells_.append("–" if c is None else
                              f"{c['solved'][0]}/{c['solved'][1]} · {fmt_steps(c['median'])}")
            if row["spread"] is not None:
                spread = f"{row['spread']:.2f}×"
            else:
                spread = (f"solves on {row['solves_on'][0]} only" if len(row["solves_on"]) == 1
                          else "solves on none" if not row["solves_on"] else "–")
            rows.append([row["method"], *cells_, spread])
        out += [f"### {task['task']}", "",
                tabulate(rows, headers=["method", *task["models"], "slowest / fastest"],
                         tablefmt="github", disable_numparse=True), ""]
    return out


PAIR_HEADERS = ["method", "against", "sooner (log-rank)", "χ²", "exact p", "Holm p (board)",
                "significant"]


def pair_rows(table) -> list[list]:
    """Every pair of a task table that was tested (leaderboard.add_survival), in table order."""
    return [[p["a"], p["b"], p["sooner"] or "–", f"{p['chi2']:.2f}", f"{p['p']:.3g}",
             f"{p['p_holm']:.3g}", "yes" if p["significant"] else "no"] for p in table["pairs"]]


def _table(columns, rows) -> str:
    """A table of these columns' cells as GitHub Markdown (a table of its own: no task, no
    reference method in its headers)."""
    return tabulate([cells(columns, r, {}) for r in rows], headers=headers(columns, {}),
                    tablefmt="github", disable_numparse=True)


def tuned_markdown(lb) -> str:
    """A tuned suite (grokbench.tuning): the tuned tables, then every trial."""
    tuned = lb["tuned"]
    n, ref = tuned["trials"], tuned["overall"]["reference"] or "reference"
    out = _header(lb)
    out += [f"- Tuning-fair protocol (after MLCommons AlgoPerf's external-tuning ruleset): each "
            f"study (task × method × study seed s) runs N = {n} trials; trial t trains with seed "
            "1000·s + t and with settings drawn from the method's search space (seeded random "
            "search, values rounded to 3 significant digits). A method without a search space "
            f"runs its recipe with those {n} seeds; the space column says so. A study scores its "
            "best trial by steps-to-generalize; a row is the median over its studies, a study "
            "that solved no trial counting as ∞ (median CI: as in the fixed-recipe tables, from "
            "the order statistics of the studies). Settings pinned by the suite are not searched.",
            "- Search spaces: " + "; ".join(f"**{m}**: {space}" for m, space in tuned["spaces"].items()),
            "", f"## Across tasks (tuned, {n} trials per study)", "",
            f"Performance-profile score B (r_max = {tuned['overall']['r_max']:g}) and the "
            f"geometric-mean speedup over {ref}, as for fixed recipes, over the tuned medians.", "",
            tabulate(overall_rows(tuned["overall"]),
                     headers=overall_headers(tuned["overall"], ref), tablefmt="github",
                     disable_numparse=True), ""]
    metas = {t["task"]: t["meta"] for t in lb["tasks"]}
    for table in tuned["tasks"]:
        meta = metas.get(table["task"], {})
        budget = (f"Budget {meta['steps']} steps, evaluated every {meta['eval_every']}; "
                  if meta.get("steps") and meta.get("eval_every") else "")
        out += [f"## {table['task']} (tuned, {n} trials per study)", "",
                f"{budget}generalized = {meta.get('target', '?')}.", "",
                _table(TUNED_COLUMNS, table["rows"]), "",
                "<details><summary>every trial</summary>", "",
                _table(TRIAL_COLUMNS, table["trials"]), "",
                "Settings shared by every run: "
                + _settings_line({k: v for k, v in meta.get("settings", {}).items()}), "",
                "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def to_csv(lb) -> str:
    """Per-task rows, one line per task × method (∞ written as inf)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=csv_fields(TASK_COLUMNS, lb["tasks"]), lineterminator="\n")
    writer.writeheader()
    for table in lb["tasks"]:
        for r in table["rows"]:
            writer.writerow(csv_row(TASK_COLUMNS, r, table))
    return buf.getvalue()


def overall_csv(lb) -> str:
    buf = io.StringIO()
    overall = lb["overall"]
    writer = csv.DictWriter(buf, fieldnames=csv_fields(OVERALL_COLUMNS, [overall]), lineterminator="\n")
    writer.writeheader()
    for r in overall["rows"]:
        writer.writerow(csv_row(OVERALL_COLUMNS, r, overall))
    return buf.getvalue()


def to_json(lb) -> str:
    return json.dumps(to_jsonable(lb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_json(text) -> dict:
    return from_jsonable(json.loads(text))


# -- files ----------------------------------------------------------------------------------------

def write_leaderboard(lb, records, out, name, write_raw=True, codepaths=()):
    """Write the tables as NAME.md/.json/.csv/.overall.csv, the profile figure NAME.profile.png
    and (``write_raw``) the raw results they were built from; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.md": to_markdown(lb), f"{name}.json": to_json(lb),
             f"{name}.csv": to_csv(lb), f"{name}.overall.csv": overall_csv(lb)}
    if write_raw:
        files[f"{name}.results.jsonl"] = records_jsonl(records)
        if codepaths:
            files[f"{name}.codepaths.jsonl"] = records_jsonl(codepaths)
    written = []
    for fname, text in files.items():
        data = text.encode("utf-8")
        atomic_write_bytes(out / fname, lambda fh, data=data: fh.write(data))
        os.chmod(out / fname, 0o644)  # the temporary file was private; these are for everyone
        written.append(out / fname)
    # A tuned suite's profiles are those of its tuned rows, not of its single trials.
    shown = {**lb, "overall": lb["tuned"]["overall"]} if lb.get("tuned") else lb
    written.append(profile_figure(shown, out / f"{name}.profile.png"))
    if lb["overall"].get("significance"):  # the survival view (not on tuned suites)
        written.append(km_figure(lb, out / f"{name}.km.png"))
    return written
