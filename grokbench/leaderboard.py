"""Leaderboards (SPEC §5, after MLCommons AlgoPerf): pure functions from run results to tables.

Per task, one row per method: over its seeds, solved k/n, the median steps-to-generalize with
misses counted as ∞ (so a method that fails on most seeds shows ∞), its IQR, median delay,
median collapse onset, median final test accuracy and wall time. Across tasks: the performance
profile score B with r_max = 4, and the geometric-mean speedup over a fixed reference method
(weight decay), which, unlike B, does not move when a new method joins.

A *record* is what a leaderboard needs of one run: ``run_id, task, method, seed, status,
config, scores, summary, versions``. Store rows and engine results are turned into records by
:func:`to_record`; a suite's raw results file is a JSON-lines file of records, so a committed
leaderboard can be rebuilt without the store (:func:`read_records`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import defaultdict

import click
from tabulate import tabulate

from .scoring import from_jsonable, to_jsonable

INF = math.inf
R_MAX = 4.0
REFERENCE = "wd"
STEP_FIELDS = ("steps_to_generalize", "grokking_delay", "collapse_onset")
# Settings that say nothing about the science (or are the rows/columns themselves).
NOT_SHOWN = {"seed", "method", "task", "threads", "loggers", "log_dir", "eval_batch_size", "preset",
             "plugin_versions"}  # versions are listed once, in the header
TOLERANCE_TEXT = ("per task and method, the solved count must fall in the central 80 % band of "
                  "Binomial(n, (k + ½)/(n + 1)) around the committed k of n (with 3 seeds: "
                  "within ±1), and the median steps-to-generalize inside the committed median's "
                  "confidence interval (with 3 seeds: the range over seeds) widened by the "
                  "evaluation resolution; ranks, delays, collapse onsets, accuracies and wall "
                  "seconds are shown but not compared (they follow from these or vary with CPU "
                  "kernels and load: leaderboards/README.md, 'Checking')")
CI_TARGET = 0.75  # the median's interval must cover at least this (3 seeds: min–max, 75 %)


# -- records --------------------------------------------------------------------------------------

def to_record(result: dict) -> dict:
    """The leaderboard's view of one run (a store row or an engine result): config and scores,
    plus a few numbers summarizing its curve; never the curve itself."""
    cfg, curve = result["config"], result.get("curve") or []
    evals = [r for r in curve if "train_acc" in r]
    scores = result["scores"]
    last = evals[-1] if evals else {}
    fit = scores.get("steps_to_fit", INF)
    at_fit = next((r for r in evals if r["step"] == fit), None)
    summary = {
        "evaluations": len(evals),
        "last_step": last.get("step"),
        "final_train_loss": last.get("train_loss"),
        "final_test_loss": last.get("test_loss"),
        "final_sc_fraction": last.get("sc_fraction"),
        "final_weight_norm": last.get("weight_norm"),
        "test_acc_at_fit": at_fit["test_acc"] if at_fit else None,
    }
    return {"run_id": result["run_id"], "task": cfg["task"], "method": cfg["method"],
            "seed": cfg["seed"], "status": result.get("status", "finished"), "config": cfg,
            "scores": scores, "summary": summary, "versions": result.get("versions") or {}}


def records_jsonl(records) -> str:
    """One record per line, sorted so that regenerating gives a small, readable diff."""
    rows = sorted(records, key=lambda r: (r["task"], r["method"], r["seed"], r["run_id"]))
    return "".join(json.dumps(to_jsonable(r), sort_keys=True, ensure_ascii=False) + "\n"
                   for r in rows)


def read_records(path) -> list[dict]:
    from .errors import UserError
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        raise UserError(f"no results file {path}; build one with `grokbench leaderboard "
                        "--suite NAME --write` after `grokbench sweep --suite NAME`") from None
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = from_jsonable(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{n} is not JSON ({exc.msg}); regenerate the file") from None
        missing = {"task", "method", "seed", "config", "scores"} - set(rec)
        if missing:
            raise UserError(f"{path}:{n} lacks {sorted(missing)}; it is not a results file")
        records.append(rec)
    return records


# -- statistics with ∞ --------------------------------------------------------------------------

def quantile(values, q):
    """Linear-interpolation quantile (numpy's default) that handles ∞: interpolating toward an
    ∞ neighbour gives ∞, landing exactly on a finite value gives that value."""
    xs = sorted(values)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    if frac == 0:
        return xs[lo]
    a, b = xs[lo], xs[lo + 1]
    if math.isinf(b):
        return b
    return a + (b - a) * frac


def median(values):
    return quantile(values, 0.5)


def median_ci(values, target=CI_TARGET):
    """A distribution-free confidence interval for the median: the order statistics
    (x_(k), x_(n+1-k)) with the largest k whose coverage 1 − 2·P(Binom(n, ½) < k) is still at
    least ``target``. It needs no assumption about the distribution and takes censored runs
    (∞) as they are. With 3 seeds it is [min, max] at 75 %; 5 seeds: [min, max] at 94 %;
    10 seeds: [x_(2), x_(9)] at 98 %. Returns (low, high, coverage)."""
    xs, n = sorted(values), len(values)
    if n == 0:
        return None, None, None
    best = (xs[0], xs[-1], 1 - 2 * 0.5 ** n)
    for k in range(2, n // 2 + 1):
        coverage = 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2 ** n
        if coverage < target:
            break
        best = (xs[k - 1], xs[n - k], coverage)
    return best


def binomial_band(k, n, mass=0.8):
    """The central ``mass`` band of solved counts a re-run of n seeds may give when k of n were
    solved: Binomial(n, p̂) with p̂ = (k + ½)/(n + 1), so that 0/n and n/n are not certainties.
    With 3 seeds this is k ± 1 (clipped to 0..3)."""
    p = (k + 0.5) / (n + 1)
    pmf = [math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(n + 1)]
    tail = (1 - mass) / 2
    cdf, lo, hi = 0.0, None, n
    for j, q in enumerate(pmf):
        cdf += q
        if lo is None and cdf > tail:
            lo = j
        if cdf >= 1 - tail:
            hi = j
            break
    return lo, hi


def median_with_resolution(values, resolutions):
    """The median and the evaluation resolution of the run(s) it comes from (an even count
    averages two runs: the coarser of their resolutions)."""
    pairs = sorted(zip(values, resolutions), key=lambda p: p[0])
    n = len(pairs)
    if n == 0:
        return None, None
    mid = [pairs[n // 2]] if n % 2 else [pairs[n // 2 - 1], pairs[n // 2]]
    res = [r for _, r in mid if r is not None]
    return median(values), (max(res) if res else None)


# -- per-task tables ----------------------------------------------------------------------------

def _identity(cfg):
    from .config import NOT_IDENTITY
    return json.dumps({k: v for k, v in cfg.items() if k not in NOT_IDENTITY and k != "seed"},
                      sort_keys=True)


def _fmt_setting(value):
    return json.dumps(value) if isinstance(value, (list, dict)) or value is None else str(value)


def label_runs(records):
    """{task: {row label: [records]}}. A row is a method; when one method was run with several
    configurations (a grid axis), each gets a row labelled with what differs, e.g.
    ``wd (weight_decay=0.1)``."""
    by_task = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for rec in records:
        cfg = rec["config"]  # records, store rows and engine results all carry their config
        by_task[cfg["task"]][cfg["method"]][_identity(cfg)].append(rec)
    out = {}
    for task, methods in by_task.items():
        out[task] = {}
        for method, variants in methods.items():
            if len(variants) == 1:
                out[task][method] = next(iter(variants.values()))
                continue
            configs = [json.loads(ident) for ident in variants]
            differing = sorted(k for k in set().union(*configs)
                               if len({_fmt_setting(c.get(k)) for c in configs}) > 1)
            for ident, recs in variants.items():
                cfg = json.loads(ident)
                label = method + " (" + ", ".join(f"{k}={_fmt_setting(cfg.get(k))}"
                                                  for k in differing) + ")"
                out[task][label] = recs
    return out


def _step(scores, key):
    value = scores.get(key)
    return INF if value is None else float(value)


def method_row(label, recs) -> dict:
    """One row of a task table: statistics over the seeds of one method (misses = ∞)."""
    recs = sorted(recs, key=lambda r: r["config"]["seed"])
    sc = [r["scores"] for r in recs]
    gen = [_step(s, "steps_to_generalize") for s in sc]
    gen_res = [s.get("steps_to_generalize_resolution") for s in sc]
    fit_res = [s.get("steps_to_fit_resolution") for s in sc]
    delay = [_step(s, "grokking_delay") for s in sc]
    delay_res = [(g or 0) + (f or 0) if g is not None or f is not None else None
                 for g, f in zip(gen_res, fit_res)]
    onset = [_step(s, "collapse_onset") for s in sc]
    onset_res = [s.get("collapse_onset_resolution") for s in sc]
    med_gen, med_gen_res = median_with_resolution(gen, gen_res)
    med_delay, med_delay_res = median_with_resolution(delay, delay_res)
    med_onset, med_onset_res = median_with_resolution(onset, onset_res)
    finite_res = [r for r in gen_res if r is not None]
    accs = [s["final_test_acc"] for s in sc if s.get("final_test_acc") is not None]
    walls = [s["wall_time"] for s in sc if s.get("wall_time") is not None]
    max_sc = [s["max_sc"] for s in sc if s.get("max_sc") is not None]
    return {
        "method": label,
        "runs": len(recs),
        "solved": sum(math.isfinite(g) for g in gen),
        "seeds": [r["config"]["seed"] for r in recs],
        "steps_to_generalize": med_gen,
        "steps_to_generalize_resolution": med_gen_res,
        "steps_to_generalize_per_seed": gen,
        "ci": list(median_ci(gen)[:2]),
        "ci_coverage": median_ci(gen)[2],
        "ci_resolution": max(finite_res) if finite_res else None,
        "grokking_delay": med_delay,
        "grokking_delay_resolution": med_delay_res,
        "collapse_onset": med_onset,
        "collapse_onset_resolution": med_onset_res,
        "max_sc": median(max_sc) if max_sc else None,
        "final_test_acc": median(accs) if accs else None,
        "wall_time": median(walls) if walls else None,
        "nonfinite_runs": sum(bool(s.get("nonfinite")) for s in sc),
    }


def competition_ranks(values, better):
    """1 + how many values are strictly better (ties share a rank: 1, 1, 3)."""
    return [1 + sum(better(other, v) for other in values) for v in values]


def task_table(task, runs_by_label) -> dict:
    rows = [method_row(label, recs) for label, recs in runs_by_label.items()]
    ranks = competition_ranks([r["steps_to_generalize"] for r in rows], lambda a, b: a < b)
    for row, rank in zip(rows, ranks):
        row["rank"] = rank
    rows.sort(key=lambda r: (r["rank"], -r["solved"], -(r["final_test_acc"] or 0), r["method"]))
    return {"task": task, "meta": task_meta(runs_by_label), "rows": rows}


def task_meta(runs_by_label) -> dict:
    """What every run of the task shares (config, budget, targets, seeds) and, per row, the
    settings in which it differs from the others."""
    recs = [r for rs in runs_by_label.values() for r in rs]
    keys = sorted(set().union(*(r["config"] for r in recs)) - NOT_SHOWN)
    shared, varying = {}, []
    for k in keys:
        values = {_fmt_setting(r["config"].get(k)) for r in recs}
        if len(values) == 1:
            shared[k] = recs[0]["config"].get(k)
        else:
            varying.append(k)
    per_row = {label: {k: rs[0]["config"].get(k) for k in varying}
               for label, rs in runs_by_label.items()}
    cfg = recs[0]["config"]
    return {"settings": shared, "row_settings": per_row,
            "steps": shared.get("steps"), "eval_every": shared.get("eval_every"),
            "seeds": sorted({r["config"]["seed"] for r in recs}),
            "target": f"{cfg.get('target_metric')} ≥ {cfg.get('target')}",
            "fit_target": f"train_acc ≥ {cfg.get('fit_target')}",
            "sc_threshold": shared.get("sc_threshold", cfg.get("sc_threshold"))}


# -- across tasks -------------------------------------------------------------------------------

def profile_ratios(task_tables) -> dict:
    """{method: {task: median / best median on that task}}; ∞ where the method missed (or did
    not run) the task, and on a task nobody solved."""
    methods = sorted({row["method"] for t in task_tables for row in t["rows"]})
    ratios = {m: {} for m in methods}
    for table in task_tables:
        medians = {row["method"]: row["steps_to_generalize"] for row in table["rows"]}
        best = min(medians.values())
        for m in methods:
            value = medians.get(m, INF)
            ratios[m][table["task"]] = INF if math.isinf(value) or math.isinf(best) else (
                value / best if best > 0 else (1.0 if value == 0 else INF))
    return ratios


def rho(ratios: dict, tau: float) -> float:
    """Performance profile ρ(τ): the fraction of tasks where the method is within τ× the best."""
    return sum(r <= tau for r in ratios.values()) / len(ratios) if ratios else 0.0


def profile_score(ratios: dict, r_max: float = R_MAX) -> float:
    """B = 1/(r_max − 1) ∫₁^{r_max} ρ(τ) dτ. ρ is a step function that rises by 1/|tasks| at
    each ratio r, so the integral is exact: each task adds max(0, r_max − r) / |tasks|."""
    if not ratios:
        return 0.0
    return sum(max(0.0, r_max - max(r, 1.0)) for r in ratios.values()) / (len(ratios) * (r_max - 1))


def speedup_over(task_tables, method, reference) -> dict:
    """Geometric mean over tasks of reference median / method median, over the tasks both
    solved (a ratio with ∞ has no finite log); the tasks only one of them solved are counted."""
    logs, only_method, only_ref, missing = [], 0, 0, []
    for table in task_tables:
        medians = {row["method"]: row["steps_to_generalize"] for row in table["rows"]}
        if method not in medians or reference not in medians:
            missing.append(table["task"])
            continue
        m, ref = medians[method], medians[reference]
        if math.isfinite(m) and math.isfinite(ref):
            logs.append(math.log(max(ref, 1) / max(m, 1)))  # step 0 would divide by zero
        elif math.isfinite(m):
            only_method += 1
        elif math.isfinite(ref):
            only_ref += 1
    return {"speedup": math.exp(sum(logs) / len(logs)) if logs else None,
            "speedup_tasks": len(logs), "solved_where_reference_missed": only_method,
            "missed_where_reference_solved": only_ref, "missing_tasks": missing}


def overall_table(task_tables, reference=REFERENCE, r_max=R_MAX) -> dict:
    ratios = profile_ratios(task_tables)
    has_ref = any(row["method"] == reference for t in task_tables for row in t["rows"])
    rows = []
    for method, per_task in ratios.items():
        row = {"method": method, "score": profile_score(per_task, r_max),
               "ratios": per_task,
               # a finite ratio is exactly a finite median (on a task nobody solved, all are ∞)
               "tasks_solved": sum(math.isfinite(r) for r in per_task.values()),
               "tasks": len(per_task)}
        row.update(speedup_over(task_tables, method, reference) if has_ref else
                   {"speedup": None, "speedup_tasks": 0, "solved_where_reference_missed": 0,
                    "missed_where_reference_solved": 0, "missing_tasks": []})
        rows.append(row)
    ranks = competition_ranks([round(r["score"], 9) for r in rows], lambda a, b: a > b)
    for row, rank in zip(rows, ranks):
        row["rank"] = rank
    rows.sort(key=lambda r: (r["rank"], -(r["speedup"] or 0), r["method"]))
    return {"reference": reference if has_ref else None, "r_max": r_max, "rows": rows}


def build(records, name="store", description="", reference=REFERENCE, r_max=R_MAX,
          commands=None, missing=(), not_applicable=(), seeds=None, codepaths=None) -> dict:
    """The whole leaderboard: a table per task (in order of first appearance) and one across
    tasks, with what produced them. ``seeds``: the seeds each cell should have (a cell with
    fewer says so); ``not_applicable``: (task, method, reason) of pairs that cannot run;
    ``codepaths``: {label: records} of the same runs under other CPU code paths, which give
    each row its numerical-sensitivity entry."""
    from . import __version__
    records = list(records)
    labelled = label_runs(records)
    tables = [task_table(task, runs) for task, runs in labelled.items()]
    if seeds is not None:
        for table in tables:
            for row in table["rows"]:
                row["expected_runs"] = len(seeds)
    if codepaths:
        add_sensitivity(tables, records, codepaths)
    versions = sorted({f"grokbench {r['versions'].get('grokbench', '?')}, torch "
                       f"{r['versions'].get('torch', '?')}" for r in records if r.get("versions")})
    machines = sorted({f"{r['versions'].get('cpu', '?')} ({r['versions'].get('aten_cpu_capability', '?')})"
                       for r in records if r.get("versions") and "cpu" in r["versions"]})
    lb = {"name": name, "description": description,
          "built_by": f"grokbench {__version__}", "run_versions": versions, "machines": machines,
          "runs": len(records),
          # pairs, not a dict: the JSON is written with sorted keys and the order matters
          "commands": [list(pair) for pair in (commands or {}).items()], "tolerance": TOLERANCE_TEXT,
          "missing": [list(m) for m in missing],
          "not_applicable": [list(m) for m in not_applicable],
          "overall": overall_table(tables, reference, r_max), "tasks": tables}
    if codepaths:
        lb["codepaths"] = sorted(codepaths)
        lb["sensitivity"] = sensitivity_table(tables)
    return lb


def _codepath(rec):
    return (rec.get("versions") or {}).get("aten_cpu_capability", "unrecorded")


def add_sensitivity(tables, records, codepaths):
    """Per row: solved count and median under each code path (the main records' own and each
    alternative's), and whether either moved: a fragile cell."""
    main_path = ", ".join(sorted({_codepath(r) for r in records}))
    by_path = {main_path: label_runs(records)}
    for label, recs in codepaths.items():
        by_path[label] = label_runs(recs)
    for table in tables:
        for row in table["rows"]:
            seen = {}
            for path, labelled in by_path.items():
                recs = labelled.get(table["task"], {}).get(row["method"])
                if recs:
                    r = method_row(row["method"], recs)
                    seen[path] = {"solved": r["solved"], "runs": r["runs"],
                                  "steps_to_generalize": r["steps_to_generalize"]}
            row["codepaths"] = seen
            row["sensitive"] = len({(v["solved"], v["steps_to_generalize"]) for v in seen.values()}) > 1


def sensitivity_table(tables) -> list[dict]:
    """Per method across tasks: how many of its task cells changed across CPU code paths."""
    out = {}
    for table in tables:
        for row in table["rows"]:
            o = out.setdefault(row["method"], {"method": row["method"], "cells": 0, "sensitive": 0,
                                               "tasks": []})
            o["cells"] += 1
            if row.get("sensitive"):
                o["sensitive"] += 1
                o["tasks"].append(table["task"])
    return sorted(out.values(), key=lambda o: (-o["sensitive"], o["method"]))


# -- rendering ----------------------------------------------------------------------------------

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
    return (f"**fragile**: solved {'–'.join(map(str, [solved[0], solved[-1]]) if len(solved) > 1 else [solved[0]])}"
            f"/{runs}, median {fmt_steps(medians[0])}" + (f"–{fmt_steps(medians[-1])}" if len(medians) > 1 else ""))


TASK_HEADERS = ["rank", "method", "solved", "median steps-to-generalize", "median CI",
                "median delay", "median collapse onset", "final test acc", "median wall s"]
OVERALL_HEADERS = ["rank", "method", "profile score B", "tasks solved", "speedup vs {ref}",
                   "only it solved / only {ref} solved"]


def task_rows(table, not_applicable=()):
    out = []
    sensitivity = any("codepaths" in r for r in table["rows"])
    for r in table["rows"]:
        onset = ("n/a" if r.get("max_sc") is None else
                 fmt_onset(r["collapse_onset"], r["collapse_onset_resolution"]))
        out.append([r["rank"], r["method"], fmt_solved(r),
                    fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"]),
                    fmt_range(r["ci"]), fmt_steps(r["grokking_delay"]), onset,
                    fmt_num(r["final_test_acc"]), fmt_num(r["wall_time"], 1)]
                   + ([fmt_sensitivity(r)] if sensitivity else []))
    for task, method, reason in not_applicable:
        if task == table["task"]:
            out.append(["–", method, "n/a", f"not applicable: {reason}"] + [""] * (4 + sensitivity)
                       + [""])
    return out


def overall_rows(overall):
    out = []
    for r in overall["rows"]:
        speed = "n/a" if r["speedup"] is None else (f"{r['speedup']:.2f}× ({r['speedup_tasks']} task"
                                                    + ("s)" if r["speedup_tasks"] != 1 else ")"))
        out.append([r["rank"], r["method"], f"{r['score']:.3f}", f"{r['tasks_solved']}/{r['tasks']}",
                    speed, f"{r['solved_where_reference_missed']} / {r['missed_where_reference_solved']}"])
    return out


def _settings_line(settings):
    return ", ".join(f"{k}={_fmt_setting(v)}" for k, v in sorted(settings.items()))


def to_markdown(lb) -> str:
    overall, ref = lb["overall"], lb["overall"]["reference"] or "reference"
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
        cells = {}
        for t, m, seed in lb["missing"]:
            cells.setdefault((t, m), []).append(seed)
        out.append(f"- **{len(lb['missing'])} runs of the suite are missing** (failed or not run; "
                   "left out, not counted as misses): "
                   + ", ".join(f"{t}/{m}/seed{'s' if len(seeds) > 1 else ''} "
                               f"{', '.join(map(str, seeds))}" for (t, m), seeds in cells.items()))
    if lb.get("not_applicable"):
        out.append("- Not applicable (not run): " + "; ".join(
            f"{t}/{m} ({why})" for t, m, why in lb["not_applicable"]))
    out += [f"- Scoring (after MLCommons AlgoPerf): per method, the median over seeds "
            f"with a miss (test target not reached within the budget) counted as ∞; median CI = "
            f"a distribution-free confidence interval for that median from the order statistics "
            f"of the seeds (with 3 seeds: the range over seeds, 75 % coverage; a miss makes its "
            f"upper end ∞); (±N) = the evaluation resolution of a step count. Scores are read up "
            f"to each run's decision point (fit, target reached and held for 3 evaluations), so "
            f"runs stopped there score as if trained to the end.",
            f"- CI tolerance (`--check`): {lb['tolerance']}.", "",
            "## Across tasks", "",
            f"Performance profile ρ(τ) = fraction of tasks where a method's median steps-to-"
            f"generalize is ≤ τ × the best method's; score B = 1/(r_max − 1) ∫₁^r_max ρ(τ) dτ "
            f"with r_max = {overall['r_max']:g} (1 = best on every task, 0 = never within "
            f"{overall['r_max']:g}× of the best). Speedup: geometric mean over tasks of "
            f"{ref}'s median / the method's, over the tasks both solved; the last column counts "
            f"the tasks only one of the two solved.", ""]
    headers = [h.format(ref=ref) for h in OVERALL_HEADERS]
    out += [tabulate(overall_rows(overall), headers=headers, tablefmt="github",
                     disable_numparse=True), ""]
    if lb.get("figure"):
        out += [f"![performance profiles ρ(τ)]({lb['figure']})", ""]
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
                f"first evaluation with SC fraction ≥ {meta['sc_threshold']} ('none': never).", "",
                tabulate(task_rows(table, lb.get("not_applicable") or ()),
                         headers=TASK_HEADERS + (["numerical sensitivity"] if any(
                             "codepaths" in r for r in table["rows"]) else []),
                         tablefmt="github", disable_numparse=True), "",
                "<details><summary>settings</summary>", "",
                f"Shared by every run: {_settings_line(meta['settings'])}", ""]
        for row in table["rows"]:  # in table order (the JSON's dicts have sorted keys)
            settings = meta["row_settings"].get(row["method"])
            if settings:
                out.append(f"- {row['method']}: {_settings_line(settings)}")
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip() + "\n"


def to_csv(lb) -> str:
    """Per-task rows, one line per task × method (∞ written as inf)."""
    buf = io.StringIO()
    fields = ["task", "rank", "method", "runs", "solved", "steps_to_generalize",
              "steps_to_generalize_resolution", "ci_low", "ci_high", "ci_coverage", "grokking_delay",
              "collapse_onset", "sc_threshold", "max_sc", "final_test_acc", "wall_time",
              "steps", "seeds"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for table in lb["tasks"]:
        for r in table["rows"]:
            writer.writerow({**{k: r.get(k) for k in fields if k in r}, "task": table["task"],
                             "ci_low": r["ci"][0], "ci_high": r["ci"][1],
                             "sc_threshold": table["meta"]["sc_threshold"],
                             "steps": table["meta"]["steps"],
                             "seeds": " ".join(map(str, r["seeds"]))})
    return buf.getvalue()


def overall_csv(lb) -> str:
    buf = io.StringIO()
    fields = ["rank", "method", "score", "tasks_solved", "tasks", "speedup", "speedup_tasks",
              "solved_where_reference_missed", "missed_where_reference_solved"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in lb["overall"]["rows"]:
        writer.writerow(r)
    return buf.getvalue()


def to_json(lb) -> str:
    return json.dumps(to_jsonable(lb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_json(text) -> dict:
    return from_jsonable(json.loads(text))


# -- checking a committed leaderboard -----------------------------------------------------------

def compare(committed, fresh) -> list[str]:
    """Where ``fresh`` disagrees with ``committed`` beyond the run-to-run variation that the
    science has (TOLERANCE_TEXT; the measurement behind it is in leaderboards/README.md), one
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
    again = overall_table(lb["tasks"], lb["overall"]["reference"] or REFERENCE, lb["overall"]["r_max"])
    diffs = []
    for a, b in zip(lb["overall"]["rows"], again["rows"]):
        if a["method"] != b["method"] or a["rank"] != b["rank"] or abs(a["score"] - b["score"]) > 1e-9:
            diffs.append(f"across tasks: committed row {a['method']} (rank {a['rank']}, B = "
                         f"{a['score']:.3f}) does not follow from the task tables (expected "
                         f"{b['method']}, rank {b['rank']}, B = {b['score']:.3f})")
    return diffs


# -- where the records come from ----------------------------------------------------------------

def suite_records(registry, spec, pool: dict, where: str, allow_missing=False):
    """The records of a suite's runs found in ``pool`` ({run id: record}, from a store or a
    raw results file), the (task, method, seed) of the runs it lacks, and the (task, method,
    reason) of the pairs that cannot run. Lacking runs is an error naming the sweep that fills
    them in, unless ``allow_missing`` (a suite built in pieces: the table says what is missing)."""
    from .config import run_id
    from .errors import UserError
    from .grid import expand
    not_applicable = []
    configs = {run_id(cfg): cfg for cfg in expand(registry, spec, not_applicable)}
    missing = [(c["task"], c["method"], c["seed"]) for i, c in configs.items() if i not in pool]
    if missing and not allow_missing:
        fill = (f"regenerate it (`grokbench sweep --suite {spec['name']}`, then `grokbench "
                f"leaderboard --suite {spec['name']} --write`)" if where.endswith(".jsonl") else
                f"run `grokbench sweep --suite {spec['name']} --store {where}` first (stored runs "
                "are skipped)")
        raise UserError(f"{len(missing)} of the {len(configs)} runs of suite {spec['name']!r} are not "
                        f"in {where}; {fill}, or rank what is there with --allow-missing")
    return [pool[i] for i in configs if i in pool], missing, not_applicable


def store_pool(store, run_ids=None) -> dict:
    """{run id: record} of the store's runs (only ``run_ids`` when given)."""
    ids = store.done_ids() if run_ids is None else store.done_ids() & set(run_ids)
    return {i: to_record(store.get(i)) for i in sorted(ids)}


def suite_commands(name) -> dict:
    return {
        "Regenerate (runs, then tables)": f"grokbench sweep --suite {name} --executor processes "
                                          f"--workers 2 && grokbench leaderboard --suite {name} --write",
        "Rebuild the tables from the raw results alone":
            f"grokbench leaderboard --suite {name} --from leaderboards/{name}.results.jsonl",
        "Check a fresh sweep against these tables (CI)":
            f"grokbench leaderboard --suite {name} --check",
    }


# -- command line -------------------------------------------------------------------------------


@click.command()
@click.option("--suite", default=None, help="a named suite (leaderboards/NAME.toml), e.g. quick")
@click.option("--from", "from_file", type=click.Path(dir_okay=False), default=None,
              help="build from a raw results file (e.g. leaderboards/quick.results.jsonl) instead of the store")
@click.option("--store", type=click.Path(dir_okay=False), default=None,
              help="SQLite results file (default: $GROKBENCH_STORE or the user data dir)")
@click.option("--task", "tasks", multiple=True, help="only these tasks (repeatable)")
@click.option("--method", "methods", multiple=True, help="only these methods (repeatable)")
@click.option("--reference", default=None, help="reference method for the speedup (default: the suite's, else wd)")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json"]), default="markdown",
              show_default=True, help="what to print")
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
def leaderboard(suite, from_file, store, tasks, methods, reference, fmt, write, out_dir, check,
                allow_missing, codepath_stores):
    """Leaderboards: a table per task and one across tasks (SPEC §5), from the store or a raw file."""
    import sys
    from pathlib import Path

    from .errors import UserError
    from .grid import load_suite, suites_dir
    from .plugins import get_registry
    from .store import Store

    spec = load_suite(suite) if suite else None
    if check and not suite:
        raise UserError("--check compares a suite's committed tables: give --suite NAME")
    name = suite or "store"
    out = Path(out_dir) if out_dir else suites_dir()
    missing, not_applicable, codepaths = [], [], {}
    if from_file:
        pool = {r["run_id"]: r for r in read_records(from_file)}
        source = str(from_file)
    else:
        db = Store(store)
        try:
            pool = store_pool(db)
        finally:
            db.close()
        source = str(db.path)
    raw_path = out / f"{name}.results.jsonl"
    if spec and write and not from_file and raw_path.exists():
        # A suite built in pieces (sweep --shard, over several sessions): the committed raw
        # results hold the pieces already done; the store's runs are newer and win.
        pool = {**{r["run_id"]: r for r in read_records(raw_path)}, **pool}
    if spec:
        records, missing, not_applicable = suite_records(get_registry(), spec, pool, source,
                                                         allow_missing)
        run_ids = {r["run_id"] for r in records}
        cells = {(r["task"], r["method"], r["seed"]) for r in records}
        for path in codepath_stores:
            db = Store(path)
            try:  # matched by task, method and seed: the same runs, whatever ids they had
                recs = [r for r in store_pool(db).values()
                        if (r["task"], r["method"], r["seed"]) in cells]
            finally:
                db.close()
            if recs:
                codepaths[", ".join(sorted({_codepath(r) for r in recs}))] = recs
        codepaths_file = out / f"{name}.codepaths.jsonl"
        if not codepath_stores and not (check and not from_file) and codepaths_file.exists():
            for rec in read_records(codepaths_file):
                if (rec["task"], rec["method"], rec["seed"]) in cells:
                    codepaths.setdefault(_codepath(rec), []).append(rec)
    else:
        records = list(pool.values())
    if tasks:
        records = [r for r in records if r["task"] in tasks]
    if methods:
        records = [r for r in records if r["method"] in methods]
    if not records:
        raise UserError(f"no runs to rank in {source}"
                        + (" for the given --task/--method" if tasks or methods else
                           "; run some first (grokbench run / grokbench sweep)"))
    description = ((spec.get("description", "") + "\n\n" + spec.get("budget_note", "")).strip()
                   if spec else "")
    commands = suite_commands(name) if spec else {
        "Regenerate": "grokbench leaderboard " + (f"--from {from_file}" if from_file else f"--store {source}")}
    lb = build(records, name, description, reference or (spec or {}).get("reference", REFERENCE),
               commands=commands, missing=missing, not_applicable=not_applicable,
               seeds=spec["seeds"] if spec else None, codepaths=codepaths or None)
    if spec:
        lb["figure"] = f"{name}.profile.png"

    if check:
        problems = check_committed(lb, out, name, from_file)
        if problems:
            click.echo(f"leaderboard {name}: the tables built from {source} disagree with the "
                       f"committed ones in {out} ({len(problems)} differences):", err=True)
            for line in problems:
                click.echo(f"  - {line}", err=True)
            click.echo(f"Tolerance: {TOLERANCE_TEXT}.\nIf the change is intended, regenerate: "
                       f"{suite_commands(name)['Regenerate (runs, then tables)']}", err=True)
            sys.exit(1)
        click.echo(f"leaderboard {name}: OK, {len(lb['tasks'])} task tables and the cross-task "
                   f"table built from {source} agree with {out / (name + '.json')} "
                   f"({lb['runs']} runs; tolerance: {TOLERANCE_TEXT})")
        return
    if write:
        written = write_leaderboard(lb, records, out, name, write_raw=True,
                                    codepaths=[r for recs in codepaths.values() for r in recs])
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    text = {"markdown": to_markdown, "csv": to_csv, "json": to_json}[fmt](lb)
    click.echo(text, nl=False)


def write_leaderboard(lb, records, out, name, write_raw=True, codepaths=()):
    from .data import atomic_write_bytes
    from .plot import profile_figure
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
        atomic_write_bytes(out / fname, lambda fh: fh.write(data))
        os.chmod(out / fname, 0o644)  # the temporary file was private; these are for everyone
        written.append(out / fname)
    written.append(profile_figure(lb, out / f"{name}.profile.png"))
    return written


def check_committed(fresh, out, name, from_file=None) -> list[str]:
    """Every way the committed files can disagree: with the fresh tables (within tolerance),
    with their own raw results, the Markdown with the JSON, the cross-task with the task tables."""
    import difflib
    from pathlib import Path

    from .errors import UserError
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    raw_path = out / f"{name}.results.jsonl"
    if not json_path.exists():
        raise UserError(f"no committed tables {json_path}; make them with "
                        f"`grokbench leaderboard --suite {name} --write`")
    committed = read_json(json_path.read_text(encoding="utf-8"))
    problems = [f"fresh vs committed: {d}" for d in compare(committed, fresh)]
    problems += [f"{json_path.name}: {d}" for d in self_consistent(committed)]
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
