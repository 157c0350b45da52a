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
NOT_SHOWN = {"seed", "method", "task", "threads", "loggers", "log_dir", "eval_batch_size", "preset"}
TOLERANCE_TEXT = ("methods, ranks and solved counts must agree exactly; median step counts "
                  "(steps-to-generalize, its IQR, delay, collapse onset) within the evaluation "
                  "resolution (the gap between the evaluations around them; ∞ and 'none' must "
                  "match); accuracies, SC and wall seconds are not compared (CPU floats and "
                  "machine load differ between machines)")


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
        "iqr": [quantile(gen, 0.25), quantile(gen, 0.75)],
        "iqr_resolution": max(finite_res) if finite_res else None,
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
          commands=None, missing=()) -> dict:
    """The whole leaderboard: a table per task (in order of first appearance) and one across
    tasks, with what produced them."""
    from . import __version__
    records = list(records)
    labelled = label_runs(records)
    tables = [task_table(task, runs) for task, runs in labelled.items()]
    versions = sorted({f"grokbench {r['versions'].get('grokbench', '?')}, torch "
                       f"{r['versions'].get('torch', '?')}" for r in records if r.get("versions")})
    return {"name": name, "description": description,
            "built_by": f"grokbench {__version__}", "run_versions": versions,
            "runs": len(records),
            # pairs, not a dict: the JSON is written with sorted keys and the order matters
            "commands": [list(pair) for pair in (commands or {}).items()], "tolerance": TOLERANCE_TEXT,
            "missing": [list(m) for m in missing],
            "overall": overall_table(tables, reference, r_max), "tasks": tables}


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


def fmt_iqr(iqr):
    lo, hi = iqr
    return "n/a" if lo is None else f"{fmt_steps(lo)}–{fmt_steps(hi)}"


TASK_HEADERS = ["rank", "method", "solved", "median steps-to-generalize", "IQR", "median delay",
                "median collapse onset", "final test acc", "median wall s"]
OVERALL_HEADERS = ["rank", "method", "profile score B", "tasks solved", "speedup vs {ref}",
                   "only it solved / only {ref} solved"]


def task_rows(table):
    out = []
    for r in table["rows"]:
        out.append([r["rank"], r["method"], f"{r['solved']}/{r['runs']}",
                    fmt_steps(r["steps_to_generalize"], r["steps_to_generalize_resolution"]),
                    fmt_iqr(r["iqr"]), fmt_steps(r["grokking_delay"]),
                    fmt_onset(r["collapse_onset"], r["collapse_onset_resolution"]),
                    fmt_num(r["final_test_acc"]), fmt_num(r["wall_time"], 1)])
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
    out += [f"- {lb['runs']} runs; run with {'; '.join(lb['run_versions']) or 'unknown versions'}; "
            f"tables built by {lb['built_by']}."]
    for what, cmd in cmds:
        out.append(f"- {what}: `{cmd}`")
    if lb.get("missing"):
        out.append(f"- **{len(lb['missing'])} runs of the suite are missing** (failed or not run; "
                   "left out, not counted as misses): "
                   + ", ".join(f"{t}/{m}/seed {s}" for t, m, s in lb["missing"]))
    out += [f"- Scoring (SPEC §5, after MLCommons AlgoPerf): per method, the median over seeds "
            f"with a miss (test target not reached within the budget) counted as ∞; IQR = 25th–75th "
            f"percentile; (±N) = the evaluation resolution of a step count.",
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
    for table in lb["tasks"]:
        meta = table["meta"]
        budget = (f"Budget {meta['steps']} steps, evaluated every {meta['eval_every']} "
                  f"(every step up to 10, then log-spaced)" if meta["steps"] and meta["eval_every"]
                  else "Budget and evaluation schedule differ between rows (see the settings)")
        out += [f"## {table['task']}", "",
                f"{budget}; seeds {', '.join(map(str, meta['seeds']))}; "
                f"generalized = {meta['target']}; fit = {meta['fit_target']}; collapse onset = "
                f"first evaluation with SC fraction ≥ {meta['sc_threshold']} ('none': never).", "",
                tabulate(task_rows(table), headers=TASK_HEADERS, tablefmt="github",
                         disable_numparse=True), "",
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
              "steps_to_generalize_resolution", "iqr_low", "iqr_high", "grokking_delay",
              "collapse_onset", "sc_threshold", "max_sc", "final_test_acc", "wall_time",
              "steps", "seeds"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for table in lb["tasks"]:
        for r in table["rows"]:
            writer.writerow({**{k: r.get(k) for k in fields if k in r}, "task": table["task"],
                             "iqr_low": r["iqr"][0], "iqr_high": r["iqr"][1],
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

def _close_steps(a, b, res):
    if a is None or b is None:
        return a is b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= (res or 0)


def compare(committed, fresh) -> list[str]:
    """Where ``fresh`` disagrees with ``committed`` beyond the tolerance (TOLERANCE_TEXT), one
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
            o, n = old_rows[m], new_rows[m]
            where = f"{task} / {m}"
            for key in ("rank", "runs", "solved"):
                if o[key] != n[key]:
                    diffs.append(f"{where}: {key} committed {o[key]}, now {n[key]} (must match exactly)")
            for key, fmt in (("steps_to_generalize", fmt_steps), ("grokking_delay", fmt_steps),
                             ("collapse_onset", fmt_onset)):
                res = max(o.get(f"{key}_resolution") or 0, n.get(f"{key}_resolution") or 0)
                if not _close_steps(o[key], n[key], res):
                    diffs.append(f"{where}: median {key} committed {fmt(o[key])}, now "
                                 f"{fmt(n[key])} (allowed: ±{res:g}, the eval resolution)")
            res = max(o.get("iqr_resolution") or 0, n.get("iqr_resolution") or 0)
            for i, end in enumerate(("25th", "75th")):
                if not _close_steps(o["iqr"][i], n["iqr"][i], res):
                    diffs.append(f"{where}: {end} percentile committed {fmt_steps(o['iqr'][i])}, "
                                 f"now {fmt_steps(n['iqr'][i])} (allowed: ±{res:g})")
    old_overall = {r["method"]: r for r in committed["overall"]["rows"]}
    for r in fresh["overall"]["rows"]:
        o = old_overall.get(r["method"])
        if o is not None and o["rank"] != r["rank"]:
            diffs.append(f"across tasks / {r['method']}: rank committed {o['rank']} "
                         f"(B = {o['score']:.3f}), now {r['rank']} (B = {r['score']:.3f})")
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

def suite_records(registry, spec, store, allow_missing=False):
    """The records of every run of a suite from the store, and the (task, method, seed) of the
    runs it lacks; lacking any is an error naming the sweep that fills them in, unless
    ``allow_missing`` (e.g. runs that failed: StableMax on a regression task)."""
    from .config import run_id
    from .errors import UserError
    from .grid import expand
    configs = {run_id(cfg): cfg for cfg in expand(registry, spec)}
    have = store.done_ids()
    missing = [(c["task"], c["method"], c["seed"]) for i, c in configs.items() if i not in have]
    if missing and not allow_missing:
        raise UserError(f"{len(missing)} of the {len(configs)} runs of suite {spec['name']!r} are not "
                        f"in {store.path}; run `grokbench sweep --suite {spec['name']} --store "
                        f"{store.path}` first (stored runs are skipped), or rank what is there "
                        "with --allow-missing")
    return [to_record(store.get(i)) for i in configs if i in have], missing


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
              help="rank a suite whose store lacks some runs (e.g. failed ones); they are listed")
def leaderboard(suite, from_file, store, tasks, methods, reference, fmt, write, out_dir, check,
                allow_missing):
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
    missing = []
    if from_file:
        records = read_records(from_file)
        source = str(from_file)
    else:
        db = Store(store)
        try:
            if spec:
                records, missing = suite_records(get_registry(), spec, db, allow_missing)
            else:
                records = [to_record(row) for row in db.results()]
        finally:
            db.close()
        source = str(db.path)
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
               commands=commands, missing=missing)
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
        written = write_leaderboard(lb, records, out, name, write_raw=True)
        click.echo("wrote " + ", ".join(str(p) for p in written), err=True)
    text = {"markdown": to_markdown, "csv": to_csv, "json": to_json}[fmt](lb)
    click.echo(text, nl=False)


def write_leaderboard(lb, records, out, name, write_raw=True):
    from .data import atomic_write_bytes
    from .plot import profile_figure
    out.mkdir(parents=True, exist_ok=True)
    files = {f"{name}.md": to_markdown(lb), f"{name}.json": to_json(lb),
             f"{name}.csv": to_csv(lb), f"{name}.overall.csv": overall_csv(lb)}
    if write_raw:
        files[f"{name}.results.jsonl"] = records_jsonl(records)
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
    elif not (from_file and Path(from_file).resolve() == raw_path.resolve()):
        from_raw = build(read_records(raw_path), name, reference=committed["overall"]["reference"]
                         or REFERENCE)
        problems += [f"{raw_path.name} vs {json_path.name}: {d}" for d in compare(committed, from_raw)]
    return problems
