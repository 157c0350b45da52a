"""Leaderboards (docs/science.md, "Leaderboards"; after MLCommons AlgoPerf): pure functions from
run results to tables.

Per task, one row per method: over its seeds, solved k/n, the median steps-to-generalize with
misses counted as ∞ (so a method that fails on most seeds shows ∞), its confidence interval,
median delay, median collapse onset, median final test accuracy and wall time. Across tasks: the
performance profile score B with r_max = 4, and the geometric-mean speedup over a fixed reference
method (weight decay), which, unlike B, does not move when a new method joins.

The input is records (:mod:`grokbench.records`: runs as records, raw results files, pools);
nothing here reads or writes a file.

The tables are data (dicts); :mod:`grokbench.render` writes them as Markdown, CSV and JSON
(their columns declared once, in :mod:`grokbench.columns`),
:mod:`grokbench.check` compares them with committed ones, and ``grokbench leaderboard``
(:mod:`grokbench.commands.leaderboard`) puts it together.
"""
from __future__ import annotations

import math
from collections import defaultdict

from . import __version__
from .columns import fmt_setting
from .config import NOT_IDENTITY, run_id, seeds_key, with_omitted_defaults
from .search_space import describe_space
from .stats import (INF, binomial_band, competition_ranks, median, median_ci,
                    median_with_resolution)
from .survival import (LEVEL, chi2, exact_logrank_p, holm, kaplan_meier, letter_groups, logrank,
                       rmst, stratified_logrank_p)
from .tuning import best_trial

R_MAX = 4.0
REFERENCE = "wd"
# Settings that say nothing about the science (or are the rows/columns themselves).
NOT_SHOWN = {"seed", "method", "task", "threads", "loggers", "log_dir", "eval_batch_size", "preset",
             "plugin_versions",  # versions are listed once, in the header
             "checkpoints"}  # weights kept or not: the same runs
def seed_count(tables) -> int:
    """The seeds of a board's cells (a row's planned runs, else its runs; the most of any row):
    what its texts describe. Where every cell is one run (a tuned suite's trials), they describe
    the suites' usual 3 seeds."""
    n = max((row.get("expected_runs") or row["runs"] for t in tables for row in t["rows"]),
            default=3)
    return n if n >= 2 else 3


def median_ci_words(n: int) -> tuple[str, float]:
    """Which seeds bound the median's interval with n seeds (stats.median_ci), in words, and
    its coverage."""
    lo, hi, coverage = median_ci(list(range(n)))
    return ("the range over seeds" if (lo, hi) == (0, n - 1)
            else f"from the {_ordinal(lo + 1)} lowest to the {_ordinal(lo + 1)} highest seed"), coverage


def median_ci_phrase(n: int) -> str:
    """What the median's interval is with n seeds and its coverage, in words."""
    what, coverage = median_ci_words(n)
    return f"{what}, {round(100 * coverage)} % coverage"


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def band_phrase(n: int) -> str:
    """The solved-count band of --check with n seeds (stats.binomial_band), in words."""
    bands = [binomial_band(k, n) for k in range(n + 1)]
    if all(band == (max(0, k - 1), min(n, k + 1)) for k, band in enumerate(bands)):
        return "within ±1"
    return ", ".join(f"{k}/{n}: {lo}–{hi}" for k, (lo, hi) in enumerate(bands))


def tolerance_text(n: int = 3) -> str:
    """The --check rule, as stated on a board of n seeds a cell."""
    return ("per task and method, the solved count must fall in the central 80 % band of "
            f"Binomial(n, (k + ½)/(n + 1)) around the committed k of n (with {n} seeds: "
            f"{band_phrase(n)}), and the median steps-to-generalize inside the committed median's "
            f"confidence interval (with {n} seeds: {median_ci_words(n)[0]}) widened "
            "by the evaluation resolution; ranks, rank groups, RMST, delays, collapse onsets, "
            "accuracies and wall seconds are shown but not compared (they follow from these or "
            "vary with CPU kernels and load: leaderboards/README.md, 'Checking')")


# -- per-task tables ----------------------------------------------------------------------------

def shown_configs(recs) -> list[dict]:
    """The configs of a task's runs as the board shows them (config.with_omitted_defaults): the
    full suite's seeds 3-4 carry input_format=pair, its seeds 0-2 predate the option, and the
    table shows one set of settings."""
    return with_omitted_defaults([r["config"] for r in recs])


def label_runs(records, planned=()):
    """{task: {row label: [records]}}. A row is a method; when one method was run with several
    configurations (a grid axis), each gets a row labelled with what differs, e.g.
    ``wd (weight_decay=0.1)``. ``planned``: the configs of a suite's runs not there yet; they are
    labelled with the rest and left out, so that a row has one label whether or not its suite is
    complete (wd's MLP runs are 'wd (model=mlp)' while its decoder runs are still missing)."""
    return label_with_missing(records, planned)[0]


def label_with_missing(records, missing_configs=()):
    """The rows of :func:`label_runs` and, from the same labelling, (task, row label, seed) of
    each missing run: in a suite with a grid axis, 'wd (model=decoder)/seed 2', not three of
    wd's seed 2 alike."""
    records = list(records)
    placeholders = [{"config": c} for c in missing_configs]
    if not placeholders:
        return _label_all(records), []
    planned_ids = {id(p) for p in placeholders}
    present: dict[str, dict[str, list]] = {}
    label_of: dict[int, str] = {}
    for task, rows in _label_all(records + placeholders).items():
        for label, recs in rows.items():
            label_of.update((id(r), label) for r in recs)
            there = [r for r in recs if id(r) not in planned_ids]
            if there:
                present.setdefault(task, {})[label] = there
    missing = [(c["task"], label_of[id(p)], c["seed"]) for c, p in zip(missing_configs, placeholders)]
    return present, missing


def _label_all(records):
    by_task: dict = defaultdict(list)
    for rec in records:  # records, store rows and engine results all carry their config
        by_task[rec["config"]["task"]].append(rec)
    out: dict[str, dict[str, list]] = {}
    for task, recs in by_task.items():
        methods: dict = defaultdict(lambda: defaultdict(list))
        # a row's runs share their run id but the seed (a run recorded before an option existed
        # and one at that option's default are one computation, and one row)
        for rec, cfg in zip(recs, shown_configs(recs)):
            methods[cfg["method"]][seeds_key(cfg)].append((cfg, rec))
        out[task] = {}
        for method, variants in methods.items():
            if len(variants) == 1:
                out[task][method] = [rec for _, rec in next(iter(variants.values()))]
                continue
            # each variant's settings, as shown
            configs = [{k: v for k, v in runs[0][0].items() if k not in NOT_IDENTITY and k != "seed"}
                       for runs in variants.values()]
            differing = sorted(k for k in set().union(*configs)
                               if len({fmt_setting(c.get(k)) for c in configs}) > 1)
            if "model" in differing:
                # A model brings its own settings (d_model, n_layers, ...; an input format): those
                # that follow from the model among these runs say nothing the model does not,
                # and made a label of ten settings where "wd (model=decoder)" says it all.
                differing = [k for k in differing
                             if k == "model" or not _follows_from(configs, "model", k)]
            for cfg, runs in zip(configs, variants.values()):
                label = method + " (" + ", ".join(f"{k}={fmt_setting(cfg.get(k))}"
                                                  for k in differing) + ")"
                out[task][label] = [rec for _, rec in runs]
    return out


def missing_rows(records, missing_configs) -> list[tuple[str, str, int]]:
    """(task, row label, seed) of each missing run, labelled as its row is (label_with_missing)."""
    return label_with_missing(records, missing_configs)[1]


def _follows_from(configs, key, other) -> bool:
    """Whether ``other``'s value is the same in every config with the same ``key`` value."""
    seen: dict = {}
    return all(seen.setdefault(fmt_setting(c.get(key)), fmt_setting(c.get(other)))
               == fmt_setting(c.get(other)) for c in configs)


def _step(scores, key):
    value = scores.get(key)
    return INF if value is None else float(value)


#: curve metrics a task table reports at each run's generalization step (median over the seeds
#: that generalized and recorded it): the Fourier fingerprint's key-frequency count (the bundled
#: `fourier` metric, on the modular tasks; docs/science.md, "Fourier fingerprint"). A table shows
#: the column only where some run recorded the metric.
AT_GENERALIZATION = {"fourier_key_freqs": "key_freqs_at_generalization"}


def at_generalization(rec, metric: str):
    """``metric``'s value at the evaluation where this run generalized (None: it did not, or its
    record keeps no curve with the metric)."""
    step = rec["scores"].get("steps_to_generalize")
    if step is None or not math.isfinite(step):
        return None
    point = next((e for e in rec.get("curve") or () if e["step"] >= step and metric in e), None)
    return point[metric] if point is not None and point["step"] == step else None


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
        "max_sc": _median_known(s.get("max_sc") for s in sc),
        "final_test_acc": _median_known(s.get("final_test_acc") for s in sc),
        "wall_time": _median_known(s.get("wall_time") for s in sc),
        "nonfinite_runs": sum(bool(s.get("nonfinite")) for s in sc),
        # only where some seed recorded it: the tables of runs without it stay as they were
        **{key: value for metric, key in AT_GENERALIZATION.items()
           if (value := _median_known(at_generalization(r, metric) for r in recs)) is not None},
    }


def _median_known(values):
    known = [v for v in values if v is not None]
    return median(known) if known else None


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
    configs = shown_configs([r for rs in runs_by_label.values() for r in rs])
    shown, at = {}, 0
    for label, rs in runs_by_label.items():
        shown[label], at = configs[at:at + len(rs)], at + len(rs)
    keys = sorted(set().union(*configs) - NOT_SHOWN)
    shared, varying = {}, []
    for k in keys:
        values = {fmt_setting(c.get(k)) for c in configs}
        if len(values) == 1 and all(k in c for c in configs):
            shared[k] = configs[0].get(k)
        else:
            varying.append(k)
    # Unset (null) settings are left out of a row: an option of another method's plugin
    # (grokfast_alpha on a Muon row) or a default it does not override, which said nothing.
    per_row = {label: {k: cs[0].get(k) for k in varying if cs[0].get(k) is not None}
               for label, cs in shown.items()}
    cfg = configs[0]
    return {"settings": shared, "row_settings": per_row,
            "steps": shared.get("steps"), "eval_every": shared.get("eval_every"),
            "seeds": sorted({c["seed"] for c in configs}),
            "target": f"{cfg.get('target_metric')} ≥ {cfg.get('target')}",
            "fit_target": f"train_acc ≥ {cfg.get('fit_target')}",
            "sc_threshold": shared.get("sc_threshold", cfg.get("sc_threshold"))}


# -- survival view (grokbench.survival; docs/science.md, "Survival view and rank groups") --------

def survival_text(level: float = LEVEL, n: int = 3) -> str:
    """The survival view's definitions, as stated on a board of n seeds a cell."""
    p_min = 2 / math.comb(2 * n, n)  # the two relabellings that separate the seeds completely
    if p_min > level:
        reach = (f"With {n} seeds a side no pair can be separated: the smallest exact p is "
                 f"2/C({2 * n}, {n}) = {p_min:.2g}")
    else:
        reach = (f"With {n} seeds a side the smallest exact p is 2/C({2 * n}, {n}) = "
                 f"{p_min:.2g}, so Holm's correction can separate a pair only on a board that "
                 f"tests at most {math.floor(level / p_min)} pairs")
    return ("Survival view: a run is an event at its steps-to-generalize, or right-censored at "
            "the budget (or at the step of a NaN/inf stop) when it never generalized. RMST = "
            "restricted mean time to generalize up to the budget τ, the area under the "
            "Kaplan–Meier curve: the mean steps-to-generalize with a miss counted as τ, never ∞ "
            "(95 % CI: Greenwood variance, normal interval, clipped to [0, τ]; with "
            f"{n} seeds it is rough). Rank group: two methods share a letter unless an exact "
            "permutation log-rank test (two-sided) separates them at family-wise level "
            f"{level:g} (Holm's correction over every pair tested on the board; a pair neither "
            f"of which generalized is not tested). {reach} (docs/science.md, 'Survival view and "
            "rank groups').")


def _sig6(value):
    """A float to 6 significant digits (an integral value as an int), for the tables' JSON."""
    value = float(f"{value:.6g}")
    return int(value) if value.is_integer() else value


def observation(rec, tau):
    """A run as a survival observation up to step τ: (step, generalized, why censored). A run
    that generalized by τ is an event; one stopped by NaN/inf before τ is censored at its last
    step ('nonfinite'); every other one at τ ('budget')."""
    scores = rec["scores"]
    gen = _step(scores, "steps_to_generalize")
    if gen <= tau:
        return gen, True, None
    if scores.get("nonfinite") or rec.get("status") == "nonfinite":
        stop = scores.get("steps_run", (rec.get("summary") or {}).get("last_step"))
        if stop is not None and stop < tau:
            return float(stop), False, "nonfinite"
    return float(tau), False, "budget"


def table_budget(recs) -> float:
    """τ of a task table: the smallest budget of its runs (rows with a larger one are censored
    there, so that every row is compared over the same steps)."""
    budgets = [r["config"]["steps"] for r in recs if r["config"].get("steps")]
    if budgets:
        return float(min(budgets))
    seen = [_step(r["scores"], "steps_to_generalize") for r in recs]
    return max([s for s in seen if math.isfinite(s)] + [1.0])


def add_survival(tables, labelled, overall, level=LEVEL):
    """The survival view of every task table: per row the Kaplan–Meier estimate of
    P(generalized by step t) with its 95 % band, the censored runs with their reason, RMST up to
    τ with its interval; per table the pairs tested (exact permutation log-rank), Holm-adjusted
    over every pair of the board, and each row's rank group (letters); on the across-task table
    how many orderings are significant."""
    pairs, raw_p = [], []
    observed: dict[str, dict] = {}  # task → method → its runs' (time, event, why)
    for table in tables:
        runs = labelled[table["task"]]
        tau = table_budget([r for recs in runs.values() for r in recs])
        table["meta"]["rmst_tau"] = _sig6(tau)
        obs = {}
        for row in table["rows"]:
            recs = sorted(runs[row["method"]], key=lambda r: r["config"]["seed"])
            obs[row["method"]] = seen = [observation(r, tau) for r in recs]
            times, events = [t for t, _e, _w in seen], [e for _t, e, _w in seen]
            mean, _var, low, high = rmst(times, events, tau)
            row["km"] = [[_sig6(t), _sig6(1 - s), _sig6(1 - hi), _sig6(1 - lo)]
                         for t, s, lo, hi, _n, _d in kaplan_meier(times, events)]
            row["censored"] = [[_sig6(t), why] for t, e, why in seen if not e]
            row["rmst"], row["rmst_ci"] = _sig6(mean), [_sig6(low), _sig6(high)]
        observed[table["task"]] = obs
        table["pairs"] = []
        for i, a in enumerate(table["rows"]):
            for b in table["rows"][i + 1:]:
                oa, ob = obs[a["method"]], obs[b["method"]]
                if not any(e for _t, e, _w in oa + ob):
                    continue  # neither generalized: nothing to order
                args = ([t for t, _e, _w in oa], [e for _t, e, _w in oa],
                        [t for t, _e, _w in ob], [e for _t, e, _w in ob])
                u, v = logrank(*args)
                p = exact_logrank_p(*args)
                pair = {"a": a["method"], "b": b["method"], "chi2": _sig6(chi2(u, v)), "p": _sig6(p),
                        "sooner": a["method"] if u > 0 else b["method"] if u < 0 else None,
                        "ordered": a["rank"] != b["rank"]}
                table["pairs"].append(pair)
                pairs.append(pair)
                raw_p.append(p)
    for pair, adjusted in zip(pairs, holm(raw_p)):
        pair["p_holm"], pair["significant"] = _sig6(adjusted), adjusted <= level
    for table in tables:
        different = [(p["a"], p["b"]) for p in table["pairs"] if p["significant"]]
        letters = letter_groups([r["method"] for r in table["rows"]], different)
        for row in table["rows"]:
            row["rank_group"] = letters[row["method"]]
    # Per method: task pairs in which it is significantly sooner / later than the other.
    sooner: dict[str, int] = defaultdict(int)
    later: dict[str, int] = defaultdict(int)
    wins = set()
    for pair in pairs:
        if pair["significant"] and pair["sooner"]:
            other = pair["b"] if pair["sooner"] == pair["a"] else pair["a"]
            sooner[pair["sooner"]] += 1
            later[other] += 1
            wins.add((pair["sooner"], other))
    for row in overall["rows"]:
        row["significantly_sooner"], row["significantly_later"] = sooner[row["method"]], later[row["method"]]
    # An ordering of the across-task table (a better rank than b) is significant when on some
    # task a is significantly sooner than b, and on none b than a.
    ranked = [r for r in overall["rows"] if r["rank"] is not None]
    orderings = backed = 0
    for i, x in enumerate(ranked):
        for y in ranked[i + 1:]:
            if x["rank"] == y["rank"]:
                continue
            hi, lo = (x, y) if x["rank"] < y["rank"] else (y, x)
            orderings += 1
            backed += (hi["method"], lo["method"]) in wins and (lo["method"], hi["method"]) not in wins
    task_orderings = [p for p in pairs if p["ordered"]]
    across = across_task_pairs(overall, observed, level)
    sooner_across: dict[str, int] = defaultdict(int)
    later_across: dict[str, int] = defaultdict(int)
    for pair in across:
        if pair["significant"] and pair["sooner"]:
            sooner_across[pair["sooner"]] += 1
            later_across[pair["b"] if pair["sooner"] == pair["a"] else pair["a"]] += 1
    for row in overall["rows"]:
        row["sooner_across"], row["later_across"] = (sooner_across[row["method"]],
                                                     later_across[row["method"]])
    rank_of = {r["method"]: r["rank"] for r in ranked}
    overall["significance"] = {
        "level": level, "test": "exact permutation log-rank, two-sided, Holm over the board",
        "pairs_tested": len(pairs), "pairs_significant": sum(p["significant"] for p in pairs),
        "task_orderings": len(task_orderings),
        "task_orderings_significant": sum(p["significant"] and p["sooner"] == p["a"]
                                          for p in task_orderings),
        "orderings": orderings, "orderings_significant": backed,
        "across_test": "stratified permutation log-rank over the tasks, two-sided, Holm over "
                       "this table's pairs",
        "across_pairs_tested": len(across),
        "across_pairs_significant": sum(p["significant"] for p in across),
        # an ordering of this table that the stratified test confirms: the better-ranked
        # method significantly sooner over the tasks
        "across_orderings_significant": sum(
            p["significant"] and p["sooner"] is not None and p["a"] in rank_of
            and p["b"] in rank_of and rank_of[p["a"]] != rank_of[p["b"]]
            and p["sooner"] == min((p["a"], p["b"]), key=lambda m: rank_of[m])
            for p in across)}
    overall["pairs"] = across


def across_task_pairs(overall, observed, level=LEVEL) -> list[dict]:
    """Every pair of the across-task table's methods, tested over all the tasks both ran with a
    stratified log-rank permutation test (survival.stratified_logrank_p: strata = tasks, so
    steps are compared only within a task), Holm-adjusted over this table's pairs. A pair with
    no generalization on any shared task is not tested."""
    methods = [r["method"] for r in overall["rows"]]
    out, raw = [], []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            strata = []
            for obs in observed.values():
                if a in obs and b in obs and any(e for _t, e, _w in obs[a] + obs[b]):
                    strata.append(([t for t, _e, _w in obs[a]], [e for _t, e, _w in obs[a]],
                                   [t for t, _e, _w in obs[b]], [e for _t, e, _w in obs[b]]))
            if not strata:
                continue
            u, p = stratified_logrank_p(strata)
            out.append({"a": a, "b": b, "tasks": len(strata), "u": _sig6(u), "p": _sig6(p),
                        "sooner": a if u > 0 else b if u < 0 else None})
            raw.append(p)
    for pair, adjusted in zip(out, holm(raw)):
        pair["p_holm"], pair["significant"] = _sig6(adjusted), adjusted <= level
    return out


# -- across tasks -------------------------------------------------------------------------------

def profile_ratios(task_tables) -> dict:
    """{method: {task: median / best median on that task}}; ∞ where the method missed (or did
    not run) the task, and on a task nobody solved."""
    methods = sorted({row["method"] for t in task_tables for row in t["rows"]})
    ratios: dict[str, dict[str, float]] = {m: {} for m in methods}
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


def incomplete_tasks(missing) -> dict[str, list[str]]:
    """{method: the tasks where some of its runs are missing}, from (task, method, seed)s."""
    out: dict[str, set[str]] = {}
    for task, method, _seed in missing:
        out.setdefault(method, set()).add(task)
    return {m: sorted(tasks) for m, tasks in out.items()}


def overall_table(task_tables, reference=REFERENCE, r_max=R_MAX, incomplete=None) -> dict:
    """The across-tasks table. ``incomplete``: {method: tasks where some of its runs are
    missing} (:func:`incomplete_tasks`). Such a method is not ranked: a task it has not run
    would count as a miss, and a suite built in pieces would rank a method it has half run
    below the rest. Its score and counts cover the tasks it has run completely, and its row
    names the rest. The best median on a task is taken over every method that ran it."""
    incomplete = incomplete or {}
    ratios = profile_ratios(task_tables)
    has_ref = any(row["method"] == reference for t in task_tables for row in t["rows"])
    rows = []
    for method, per_task in ratios.items():
        left_out = [t for t in incomplete.get(method, ()) if t in per_task]
        per_task = {t: r for t, r in per_task.items() if t not in left_out}
        row = {"method": method, "score": profile_score(per_task, r_max),
               "ratios": per_task,
               # a finite ratio is exactly a finite median (on a task nobody solved, all are ∞)
               "tasks_solved": sum(math.isfinite(r) for r in per_task.values()),
               "tasks": len(per_task)}
        if left_out:
            row["incomplete_tasks"] = left_out
        tables = [t for t in task_tables if t["task"] not in left_out]
        row.update(speedup_over(tables, method, reference) if has_ref else
                   {"speedup": None, "speedup_tasks": 0, "solved_where_reference_missed": 0,
                    "missed_where_reference_solved": 0, "missing_tasks": []})
        rows.append(row)
    ranked = [r for r in rows if "incomplete_tasks" not in r]
    ranks = competition_ranks([round(r["score"], 9) for r in ranked], lambda a, b: a > b)
    for row, rank in zip(ranked, ranks):
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, -r["score"], -(r["speedup"] or 0),
                             r["method"]))
    return {"reference": reference if has_ref else None, "r_max": r_max, "rows": rows}


def build(records, name="store", description="", reference=REFERENCE, r_max=R_MAX,
          commands=None, missing_configs=(), not_applicable=(), seeds=None, codepaths=None,
          tuning=None) -> dict:
    """The whole leaderboard: a table per task (in order of first appearance) and one across
    tasks, with what produced them. ``missing_configs``: the configs of the suite's runs not
    there (listed by row, and labelling the rows as the complete suite will); ``seeds``: the
    seeds each cell should have (a cell with fewer says so); ``not_applicable``: (task, method,
    reason) of pairs that cannot run;
    ``codepaths``: {label: records} of the same runs under other CPU code paths, which give
    each row its numerical-sensitivity entry; ``tuning``: (trials, spaces, N) of a tuned suite
    (grokbench.tuning), which adds the tuned tables (:func:`tuned_tables`)."""
    records, missing_configs = list(records), list(missing_configs)
    labelled, missing = label_with_missing(records, missing_configs)  # one labelling for both
    tables = [task_table(task, runs) for task, runs in labelled.items()]
    if seeds is not None:
        for table in tables:
            for row in table["rows"]:
                row["expected_runs"] = len(seeds)
    if codepaths:
        add_sensitivity(tables, records, codepaths, missing_configs)
    versions = sorted({f"grokbench {r['versions'].get('grokbench', '?')}, torch "
                       f"{r['versions'].get('torch', '?')}" for r in records if r.get("versions")})
    machines = sorted({f"{r['versions'].get('cpu', '?')} ({r['versions'].get('aten_cpu_capability', '?')})"
                       for r in records if r.get("versions") and "cpu" in r["versions"]})
    lb = {"name": name, "description": description,
          "built_by": f"grokbench {__version__}", "run_versions": versions, "machines": machines,
          "runs": len(records),
          # pairs, not a dict: the JSON is written with sorted keys and the order matters
          "commands": [list(pair) for pair in (commands or {}).items()],
          "tolerance": tolerance_text(seed_count(tables)),
          "missing": [list(m) for m in missing],
          "not_applicable": [list(m) for m in not_applicable],
          "overall": overall_table(tables, reference, r_max, incomplete_tasks(missing)),
          "tasks": tables}
    if tuning is None:  # a tuned suite's fixed-recipe rows are single trials: no survival view
        add_survival(tables, labelled, lb["overall"])
    if codepaths:
        lb["codepaths"] = sorted(codepaths)
        lb["sensitivity"] = sensitivity_table(tables)
    summary = precision_summary(records)
    if summary is not None:  # a board over several kinds of arithmetic (the numerics suite)
        lb["precision_summary"] = summary
    by_model = model_summary(records)
    if by_model is not None:  # a board over several models (the architectures suite)
        lb["model_summary"] = by_model
    if tuning is not None:
        trials, spaces, n = tuning
        lb["tuned"] = tuned_tables(trials, {r["run_id"]: r for r in records}, spaces, n, reference,
                                   r_max)
    return lb


# -- precision (the numerics suite) --------------------------------------------------------------

#: the arithmetic a run trains in, least precise first, as (dtype, precision setting, name):
#: pure bfloat16 keeps 8 significant bits everywhere, pure float16 11; mixed precision computes
#: under autocast in bfloat16 or float16 over float32 master weights (docs/science.md,
#: "Precision"); then float32 and float64 throughout
PRECISION_ORDER = (("bfloat16", "pure", "bf16"), ("float16", "pure", "fp16"),
                   ("float32", "bf16-mixed", "bf16-mixed"), ("float32", "fp16-mixed", "fp16-mixed"),
                   ("float32", "pure", "fp32"), ("float64", "pure", "fp64"))
_PRECISION_NAMES = {(d, p): n for d, p, n in PRECISION_ORDER}


def precision_name(config) -> str | None:
    """The run's arithmetic (PRECISION_ORDER's name); None for a combination outside it."""
    return _PRECISION_NAMES.get((config.get("dtype", "float32"), config.get("precision") or "pure"))


def precision_summary(records) -> dict | None:
    """Per method and task, the least precise arithmetic in which the method still solves the
    task (a majority of its seeds generalize), and any more precise one in which it does not;
    None unless the runs span at least two kinds of arithmetic."""
    cells: dict = {}
    for rec in records:
        name = precision_name(rec["config"])
        if name is not None:
            gen = _step(rec["scores"], "steps_to_generalize")
            cells.setdefault(rec["method"], {}).setdefault(rec["task"], {}).setdefault(name, []).append(gen)
    names = [n for _, _, n in PRECISION_ORDER]
    if len({p for tasks in cells.values() for by in tasks.values() for p in by}) < 2:
        return None
    rows = []
    for method, tasks in cells.items():
        row: dict = {"method": method, "tasks": {}}
        for task, by in tasks.items():
            tried = sorted(by, key=names.index)
            solved = {p: [sum(math.isfinite(g) for g in by[p]), len(by[p])] for p in tried}
            solves = {p: 2 * k > n for p, (k, n) in solved.items()}  # a majority of the seeds
            lowest = next((p for p in tried if solves[p]), None)
            above = tried[tried.index(lowest) + 1:] if lowest else []
            row["tasks"][task] = {"lowest": lowest, "fails_above": [p for p in above if not solves[p]],
                                  "tried": tried, "solved": solved}
        rows.append(row)
    return {"order": names, "rows": rows}


# -- architectures (a suite with a model axis) ----------------------------------------------------

def model_summary(records) -> dict | None:
    """Per task and method, each model's solved count and median steps-to-generalize, and how
    far apart the models put the method: the slowest model's median over the fastest's, over
    the models where a majority of the seeds generalize (a method that solves on one model only
    has no ratio; the table says where it solves). None unless some method ran on a task with at
    least two models, so boards with one model per task are unchanged."""
    cells: dict = {}
    for rec in records:
        gen = _step(rec["scores"], "steps_to_generalize")
        (cells.setdefault(rec["task"], {}).setdefault(rec["method"], {})
         .setdefault(rec["config"].get("model"), []).append(gen))
    if not any(len(models) > 1 for methods in cells.values() for models in methods.values()):
        return None
    tasks = []
    for task, methods in cells.items():
        models = list(dict.fromkeys(m for by in methods.values() for m in by))  # first seen
        rows = []
        for method, by in methods.items():
            row = {"method": method, "models": {}}
            for model, gens in by.items():
                k = sum(math.isfinite(g) for g in gens)
                row["models"][model] = {"solved": [k, len(gens)], "median": median(gens)}
            solves = [m for m, c in row["models"].items() if 2 * c["solved"][0] > c["solved"][1]]
            meds = [row["models"][m]["median"] for m in solves]
            row["solves_on"] = solves
            row["spread"] = max(meds) / min(meds) if len(meds) > 1 and min(meds) > 0 else None
            rows.append(row)
        tasks.append({"task": task, "models": models, "rows": rows})
    return {"tasks": tasks}


# -- tuned suites (grokbench.tuning) ------------------------------------------------------------

def tuned_tables(trials, pool: dict, spaces: dict, n: int, reference=REFERENCE,
                 r_max=R_MAX) -> dict:
    """Per task, one row per method: each study (task × method × study seed) scores its best
    trial by steps-to-generalize (ties: the earlier trial), and the row takes the median over
    its studies with a study that solved nothing counted as ∞, as a fixed-recipe row counts a
    seed. Trials not in ``pool`` (not run yet) are left out and counted. The across-task table
    is computed from these rows exactly as for fixed recipes."""
    cells: dict = defaultdict(lambda: defaultdict(list))  # (task, method) -> seed -> [(trial, rec)]
    for t in trials:
        cells[(t.task, t.method)][t.study_seed].append((t, pool.get(run_id(t.config))))
    tables = []
    for task in dict.fromkeys(t.task for t in trials):
        rows, details = [], []
        for (cell_task, method), studies in cells.items():
            if cell_task != task:
                continue
            best, run, solved_trials = [], 0, 0
            for seed, items in sorted(studies.items()):
                scored = []
                for t, rec in items:
                    if rec is None:
                        continue
                    steps = _step(rec["scores"], "steps_to_generalize")
                    scored.append((steps, t.trial, t, rec))
                    details.append({"method": method, "study_seed": seed, "trial": t.trial,
                                    "seed": rec["config"]["seed"], "settings": t.drawn,
                                    "steps_to_generalize": steps,
                                    "resolution": rec["scores"].get("steps_to_generalize_resolution")})
                if not scored:
                    continue
                run += len(scored)
                solved_trials += sum(math.isfinite(s[0]) for s in scored)
                steps, _, t, rec = best_trial(scored)
                best.append({"study_seed": seed, "trial": t.trial, "seed": rec["config"]["seed"],
                             "steps_to_generalize": steps, "settings": t.drawn,
                             "resolution": rec["scores"].get("steps_to_generalize_resolution"),
                             "trials_run": len(scored)})
            if not best:
                continue
            gen = [b["steps_to_generalize"] for b in best]
            med, med_res = median_with_resolution(gen, [b["resolution"] for b in best])
            lo, hi, coverage = median_ci(gen)
            rows.append({"method": method, "studies": len(best),
                         "solved": sum(math.isfinite(g) for g in gen),
                         "steps_to_generalize": med, "steps_to_generalize_resolution": med_res,
                         "ci": [lo, hi], "ci_coverage": coverage, "trials_run": run,
                         "trials_expected": n * len(studies), "trials_solved": solved_trials,
                         "best": best, "space": describe_space(spaces.get(method))})
        if not rows:
            continue
        ranks = competition_ranks([r["steps_to_generalize"] for r in rows], lambda a, b: a < b)
        for row, rank in zip(rows, ranks):
            row["rank"] = rank
        rows.sort(key=lambda r: (r["rank"], -r["solved"], r["method"]))
        details.sort(key=lambda d: (d["method"], d["study_seed"], d["trial"]))
        tables.append({"task": task, "rows": rows, "trials": details})
    return {"trials": n, "spaces": {m: describe_space(s) for m, s in sorted(spaces.items())},
            "tasks": tables, "overall": overall_table(tables, reference, r_max)}


def codepath(rec) -> str:
    """The CPU code path (ATen kernels) a run used."""
    return (rec.get("versions") or {}).get("aten_cpu_capability", "unrecorded")


def add_sensitivity(tables, records, codepaths, planned=()):
    """Per row: solved count and median under each code path (the main records' own and each
    alternative's), and whether either moved: a fragile cell. Every code path's runs are
    labelled over the whole suite (``planned``: its missing runs), as the tables are."""
    main_path = ", ".join(sorted({codepath(r) for r in records}))
    by_path = {main_path: label_runs(records, planned)}
    suite = [r["config"] for r in records] + list(planned)
    for label, recs in codepaths.items():
        by_path[label] = label_runs(recs, suite)
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
    out: dict[str, dict] = {}
    for table in tables:
        for row in table["rows"]:
            o = out.setdefault(row["method"], {"method": row["method"], "cells": 0, "sensitive": 0,
                                               "tasks": []})
            o["cells"] += 1
            if row.get("sensitive"):
                o["sensitive"] += 1
                o["tasks"].append(table["task"])
    return sorted(out.values(), key=lambda o: (-o["sensitive"], o["method"]))


def suite_commands(name) -> dict:
    return {
        "Regenerate (runs, then tables)": f"grokbench sweep --suite {name} --executor processes "
                                          f"--workers 2 && grokbench leaderboard --suite {name} --write",
        "Rebuild the tables from the raw results alone":
            f"grokbench leaderboard --suite {name} --from leaderboards/{name}.results.jsonl",
        "Check a fresh sweep against these tables (CI)":
            f"grokbench leaderboard --suite {name} --check",
    }
