"""Leaderboard tables (:mod:`grokbench.leaderboard`) as text: Markdown, CSV and JSON, and the
files a suite commits (leaderboards/NAME.*)."""
from __future__ import annotations

import csv
import io
import json
import math
import os

from tabulate import tabulate

from .data import atomic_write_bytes
from .leaderboard import SURVIVAL_TEXT, fmt_setting
from .records import records_jsonl
from .survival import LEVEL
from .scoring import from_jsonable, to_jsonable


def fmt_steps(value, resolution=None):
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞"
    text = f"{value:g}"
    return text + (f" (±{resolution:g})" if resolution else "")


def fmt_onset(value, resolution=None):
    return "none" if value is not None and math.isinf(value) else fmt_steps(value, resolution)


def fmt_num(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_range(pair):
    lo, hi = pair
    return "n/a" if lo is None else f"{fmt_steps(lo)}–{fmt_steps(hi)}"


def fmt_solved(row):
    text = f"{row['solved']}/{row['runs']}"
    expected = row.get("expected_runs")
    if expected and row["runs"] < expected:
        text += f" ({row['runs']}/{expected} seeds run)"
    return text


def fmt_sensitivity(row):
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


def fmt_rmst(row):
    """RMST with its 95 % interval, in steps (n/a: no survival view, e.g. a tuned trial row)."""
    if row.get("rmst") is None:
        return "n/a"
    low, high = row["rmst_ci"]
    return f"{row['rmst']:.0f} ({low:.0f}–{high:.0f})"


def fmt_significant(row):
    return "n/a" if row.get("significantly_sooner") is None else \
        f"{row['significantly_sooner']} / {row['significantly_later']}"


TASK_HEADERS = ["rank", "method", "solved", "median steps-to-generalize", "median CI",
                "median delay", "median collapse onset", "final test acc", "median wall s",
                "RMST (95 % CI)", "rank group"]
OVERALL_HEADERS = ["rank", "method", "profile score B", "tasks solved", "speedup vs {ref}",
                   "only it solved / only {ref} solved"]
SIGNIFICANCE_HEADER = "significantly sooner / later"  # where the board has its survival view


def overall_headers(overall, ref) -> list[str]:
    return [h.format(ref=ref) for h in OVERALL_HEADERS] + (
        [SIGNIFICANCE_HEADER] if overall.get("significance") else [])


def task_rows(table, not_applicable=()):
    out = []
    sensitivity = any("codepaths" in r for r in table["rows"])
    for r in table["rows"]:
        onset = ("n/a" if r.get("max_sc") is None else
                 fmt_onset(r["collapse_onset"], r["collapse_onset_resolution"]))
        out.append([r["rank"], marked(r["method"], table), fmt_solved(r),
                    fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"]),
                    fmt_range(r["ci"]), fmt_steps(r["grokking_delay"]), onset,
                    fmt_num(r["final_test_acc"]), fmt_num(r["wall_time"], 1), fmt_rmst(r),
                    r.get("rank_group") or "n/a"]
                   + ([fmt_sensitivity(r)] if sensitivity else []))
    for task, method, reason in not_applicable:
        if task == table["task"]:
            out.append(["–", method, "n/a", f"not applicable: {reason}"]
                       + [""] * (len(TASK_HEADERS) - 4 + sensitivity))
    return out


#: how a row of a method added with `leaderboard --add-method` is marked (grokbench.byom)
ADDED_MARK = " †"


def marked(method: str, table: dict) -> str:
    return method + (ADDED_MARK if method in table.get("added", ()) else "")


def overall_rows(overall):
    out = []
    for r in overall["rows"]:
        speed = "n/a" if r["speedup"] is None else (f"{r['speedup']:.2f}× ({r['speedup_tasks']} task"
                                                    + ("s)" if r["speedup_tasks"] != 1 else ")"))
        solved = f"{r['tasks_solved']}/{r['tasks']}"
        if r.get("incomplete_tasks"):  # not ranked: see leaderboard.overall_table
            solved += f" (not yet complete: {', '.join(r['incomplete_tasks'])})"
        out.append(["–" if r["rank"] is None else r["rank"], marked(r["method"], overall),
                    f"{r['score']:.3f}", solved,
                    speed, f"{r['solved_where_reference_missed']} / {r['missed_where_reference_solved']}"]
                   + ([fmt_significant(r)] if overall.get("significance") else []))
    return out


def survival_text(level=LEVEL) -> str:
    return SURVIVAL_TEXT.format(level=level)


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


SCORING_TEXT = ("Scoring (after MLCommons AlgoPerf): per method, the median over seeds "
                "with a miss (test target not reached within the budget) counted as ∞; median CI = "
                "a distribution-free confidence interval for that median from the order statistics "
                "of the seeds (with 3 seeds: the range over seeds, 75 % coverage; a miss makes its "
                "upper end ∞); (±N) = the evaluation resolution of a step count. Scores are read up "
                "to each run's decision point (fit, target reached and held for 3 evaluations), so "
                "runs stopped there score as if trained to the end.")


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
            "significantly sooner / later than another.")


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
        out.append("- Not applicable (not run): " + "; ".join(
            f"{t}/{m} ({why})" for t, m, why in lb["not_applicable"]))
    return out


def to_markdown(lb) -> str:
    if lb.get("tuned"):
        return tuned_markdown(lb)
    overall, ref = lb["overall"], lb["overall"]["reference"] or "reference"
    out = _header(lb)
    out += [f"- {SCORING_TEXT}"] + ([f"- {survival_text()}"] if lb["overall"].get("significance") else [])
    out += [f"- CI tolerance (`--check`): {lb['tolerance']}.", "",
            "## Across tasks", "", profile_text(overall, ref), ""]
    out += [tabulate(overall_rows(overall), headers=overall_headers(overall, ref), tablefmt="github",
                     disable_numparse=True), ""]
    if lb.get("figure"):
        out += [f"![performance profiles ρ(τ)]({lb['figure']})", ""]
    if lb.get("km_figure"):
        out += [f"![Kaplan–Meier: P(generalized by step t) per task]({lb['km_figure']})", ""]
    if lb.get("sensitivity"):
        out += ["## Numerical sensitivity", "",
                "The same runs (same configs and seeds) repeated under other CPU code paths "
                f"(ATen kernels: {', '.join(lb['codepaths'])}, forced with "
                "`ATEN_CPU_CAPABILITY`) round floating point differently. A task cell is "
                "*fragile* when its solved count or median steps-to-generalize changes between "
                "code paths: grokking near its threshold is that sensitive to rounding.", "",
                tabulate([[o["method"], f"{o['sensitive']}/{o['cells']}",
                           ", ".join(o["tasks"]) or "–"] for o in lb["sensitivity"]],
                         headers=["method", "fragile task cells", "where"], tablefmt="github",
                         disable_numparse=True), ""]
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
                tabulate(task_rows(table, lb.get("not_applicable") or ()),
                         headers=TASK_HEADERS + (["numerical sensitivity"] if any(
                             "codepaths" in r for r in table["rows"]) else []),
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


PAIR_HEADERS = ["method", "against", "sooner (log-rank)", "χ²", "exact p", "Holm p (board)",
                "significant"]


def pair_rows(table) -> list[list]:
    """Every pair of a task table that was tested (leaderboard.add_survival), in table order."""
    return [[p["a"], p["b"], p["sooner"] or "–", f"{p['chi2']:.2f}", f"{p['p']:.3g}",
             f"{p['p_holm']:.3g}", "yes" if p["significant"] else "no"] for p in table["pairs"]]


def _settings_short(settings) -> str:
    return ", ".join(f"{k}={fmt_setting(v)}" for k, v in sorted(settings.items())) or "recipe"


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
        rows = []
        for r in table["rows"]:
            best = "; ".join(f"s{b['study_seed']}: trial {b['trial']} (seed {b['seed']}"
                             + (f", {_settings_short(b['settings'])}" if b["settings"] else "")
                             + ")" for b in r["best"] if math.isfinite(b["steps_to_generalize"]))
            rows.append([r["rank"], r["method"], f"{r['solved']}/{r['studies']}",
                         fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"]),
                         fmt_range(r["ci"]),
                         f"{r['trials_solved']}/{r['trials_run']}"
                         + (f" ({r['trials_run']}/{r['trials_expected']} run)"
                            if r["trials_run"] < r["trials_expected"] else ""),
                         best or "–", r["space"]])
        out += [f"## {table['task']} (tuned, {n} trials per study)", "",
                f"{budget}generalized = {meta.get('target', '?')}.", "",
                tabulate(rows, headers=["rank", "method", "studies solved",
                                        "median best steps-to-generalize", "median CI",
                                        "trials solved", "best trial", "search space"],
                         tablefmt="github", disable_numparse=True), "",
                "<details><summary>every trial</summary>", "",
                tabulate([[d["method"], d["study_seed"], d["trial"], d["seed"],
                           _settings_short(d["settings"]),
                           fmt_steps(d["steps_to_generalize"], d["resolution"])]
                          for d in table["trials"]],
                         headers=["method", "study seed", "trial", "run seed", "settings",
                                  "steps-to-generalize"], tablefmt="github",
                         disable_numparse=True), "",
                "Settings shared by every run: "
                + _settings_line({k: v for k, v in meta.get("settings", {}).items()}), "",
                "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def to_csv(lb) -> str:
    """Per-task rows, one line per task × method (∞ written as inf)."""
    buf = io.StringIO()
    fields = ["task", "rank", "method", "runs", "solved", "steps_to_generalize",
              "steps_to_generalize_resolution", "ci_low", "ci_high", "ci_coverage", "grokking_delay",
              "collapse_onset", "sc_threshold", "max_sc", "final_test_acc", "wall_time",
              "steps", "seeds", "rmst", "rmst_low", "rmst_high", "rank_group"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for table in lb["tasks"]:
        for r in table["rows"]:
            writer.writerow({**{k: r.get(k) for k in fields if k in r}, "task": table["task"],
                             "ci_low": r["ci"][0], "ci_high": r["ci"][1],
                             "rmst_low": (r.get("rmst_ci") or [None, None])[0],
                             "rmst_high": (r.get("rmst_ci") or [None, None])[1],
                             "sc_threshold": table["meta"]["sc_threshold"],
                             "steps": table["meta"]["steps"],
                             "seeds": " ".join(map(str, r["seeds"]))})
    return buf.getvalue()


def overall_csv(lb) -> str:
    buf = io.StringIO()
    fields = ["rank", "method", "score", "tasks_solved", "tasks", "speedup", "speedup_tasks",
              "solved_where_reference_missed", "missed_where_reference_solved"]
    if lb["overall"].get("significance"):
        fields += ["significantly_sooner", "significantly_later"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in lb["overall"]["rows"]:
        writer.writerow(r)
    return buf.getvalue()


def to_json(lb) -> str:
    return json.dumps(to_jsonable(lb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_json(text) -> dict:
    return from_jsonable(json.loads(text))


# -- files ----------------------------------------------------------------------------------------

def write_leaderboard(lb, records, out, name, write_raw=True, codepaths=()):
    """Write the tables as NAME.md/.json/.csv/.overall.csv, the profile figure NAME.profile.png
    and (``write_raw``) the raw results they were built from; return the paths."""
    from .plot import profile_figure  # matplotlib, only when writing
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
        from .plot import km_figure
        written.append(km_figure(lb, out / f"{name}.km.png"))
    return written
