"""Records: what a leaderboard or a claim needs of one run, apart from any scoring.

A *record* is ``run_id, task, method, seed, status, config, scores, summary, versions`` and,
where kept, a compact ``curve``. Store rows and engine results become records with
:func:`to_record`; a suite's raw results file (``leaderboards/NAME.results.jsonl``) is a
JSON-lines file of records (:func:`records_jsonl`, :func:`read_records`, each line checked by
:func:`record_problem`), so a committed leaderboard can be rebuilt without the store. A *pool*
is {run id: record}, from a store (:func:`store_pool`), a raw results file, or both
(:func:`with_committed`); :func:`suite_records` picks a suite's runs out of it. The committed
raw results are read here too: one suite's (:func:`committed_records`, for sweep
--skip-committed) or every suite's (:func:`committed_pool`, for claims --use-committed).

Running code (sweeps, claims) reads and writes records through this module only; scoring them
is :mod:`grokbench.leaderboard`'s job (after AlgoPerf, which keeps reading logs apart from the
performance-profile computation).
"""
from __future__ import annotations

import json
import math

from .config import run_id
from .errors import UserError
from .files import read_jsonl
from .grid import expand, suites_dir
from .scoring import from_jsonable, to_jsonable
from .stats import INF

def to_record(result: dict) -> dict:
    """The leaderboard's view of one run (a store row or an engine result): config and scores,
    a few numbers summarizing its curve, and the curve itself, compact (compact_curve), so
    that committed raw results can be plotted and re-read without the store."""
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
    record = {"run_id": result["run_id"], "task": cfg["task"], "method": cfg["method"],
              "seed": cfg["seed"], "status": result.get("status", "finished"), "config": cfg,
              "scores": scores, "summary": summary, "versions": result.get("versions") or {}}
    if evals:
        record["curve"] = compact_curve(evals)
    return record


#: what a raw-results line keeps of each evaluation (the store keeps every metric)
COMPACT_KEYS = ("step", "train_acc", "test_acc", "train_loss", "test_loss", "weight_norm",
                "sc_fraction", "fourier_key_freqs", "fourier_top5_energy")
#: at most this many evaluations per run in raw results: the full suite's 435 runs, 174 of them
#: with curves, take 2.5 MB (a run evaluated every 100 steps for 5000 steps has about 70)
COMPACT_EVALS = 200


def compact_curve(evals: list[dict]) -> list[dict]:
    """The evaluations' steps, accuracies, losses, weight norm and SC fraction (and the Fourier
    fingerprint where recorded), to 6 significant digits; a longer curve keeps its first and
    last evaluation and evenly spaced ones between, at most COMPACT_EVALS."""
    if len(evals) > COMPACT_EVALS:
        picks = sorted({round(i * (len(evals) - 1) / (COMPACT_EVALS - 1)) for i in range(COMPACT_EVALS)})
        evals = [evals[i] for i in picks]
    return [{k: _six(e[k]) for k in COMPACT_KEYS if k in e} for e in evals]


def _six(value):
    return float(f"{value:.6g}") if isinstance(value, float) and math.isfinite(value) else value


def records_jsonl(records) -> str:
    """One record per line, sorted so that regenerating gives a small, readable diff."""
    rows = sorted(records, key=lambda r: (r["task"], r["method"], r["seed"], r["run_id"]))
    return "".join(json.dumps(to_jsonable(r), sort_keys=True, ensure_ascii=False) + "\n"
                   for r in rows)


def read_records(path, unique: bool = True) -> list[dict]:
    """The records of a raw results file, each line checked against the schema before any is
    used (a results file is input: hand-edited, truncated or not ours at all). ``unique``: a
    run id on two lines is an error (one would silently win); a codepaths file has the same
    runs under several CPU code paths."""
    fix = "regenerate it with `grokbench leaderboard --suite NAME --write`"
    records: list[dict] = []
    lines: dict[str, int] = {}
    for n, value in read_jsonl(path, fix):
        rec = from_jsonable(value)
        problem = record_problem(rec)
        if problem is None and unique and rec["run_id"] in lines:
            problem = f"repeats run {rec['run_id']} of line {lines[rec['run_id']]}"
        if problem:
            raise UserError(f"{path}:{n} {problem}; it is not a results file line: {fix}")
        lines[rec["run_id"]] = n
        records.append(rec)
    return records


# Scores that count steps: a step is ≥ 0, ∞ when not reached (None where not measured).
_STEP_SCORES = ("steps_to_fit", "steps_to_generalize", "collapse_onset", "steps_run")


def record_problem(rec) -> str | None:
    """What is wrong with a results record (as a sentence's predicate), or None."""
    if not isinstance(rec, dict):
        return "is not a JSON object"
    missing = {"run_id", "task", "method", "seed", "config", "scores"} - set(rec)
    if missing:
        return f"lacks {sorted(missing)}"
    for key, kind in (("run_id", str), ("task", str), ("method", str), ("config", dict),
                      ("scores", dict)):
        if not isinstance(rec[key], kind):
            return f"has a {key} that is not a {'string' if kind is str else 'JSON object'}"
    if not isinstance(rec["seed"], int) or isinstance(rec["seed"], bool):
        return "has a seed that is not an integer"
    for key, value in rec["scores"].items():
        if value is not None and (isinstance(value, bool) != (key == "nonfinite")
                                  or not isinstance(value, (int, float))):
            return f"has a score {key} that is not a number"
        if key in _STEP_SCORES and value is not None and not value >= 0:
            return f"has a step count {key} of {value}, not ≥ 0"
    config = rec["config"]
    if (config.get("task"), config.get("method"), config.get("seed")) != \
            (rec["task"], rec["method"], rec["seed"]):
        return "has a task, method or seed that its config does not"
    try:
        computed = run_id(config)
    except (TypeError, ValueError):
        return "has a config that is not a run's settings"
    if computed != rec["run_id"]:
        return f"has run_id {rec['run_id']}, but its config's id is {computed}"
    return None


# -- pools: {run id: record} ---------------------------------------------------------------------

def suite_records(registry, spec, pool: dict, where: str, allow_missing=False):
    """The records of a suite's runs found in ``pool`` ({run id: record}, from a store or a
    raw results file), the configs of the runs it lacks (leaderboard.missing_rows names their
    rows), and the (task, method, reason) of the pairs that cannot run. Lacking runs is an
    error naming the sweep that fills them in, unless ``allow_missing`` (a suite built in
    pieces: the table says what is missing)."""
    not_applicable: list[tuple[str, str, str]] = []
    configs = {run_id(cfg): cfg for cfg in expand(registry, spec, not_applicable)}
    missing = [c for i, c in configs.items() if i not in pool]
    if missing and not allow_missing:
        fill = (f"regenerate it (`grokbench sweep --suite {spec['name']}`, then `grokbench "
                f"leaderboard --suite {spec['name']} --write`)" if where.endswith(".jsonl") else
                f"run `grokbench sweep --suite {spec['name']} --store {where}` first (stored runs "
                "are skipped)")
        raise UserError(f"{len(missing)} of the {len(configs)} runs of suite {spec['name']!r} are not "
                        f"in {where}; {fill}, or rank what is there with --allow-missing")
    return [pool[i] for i in configs if i in pool], missing, not_applicable


def store_pool(store) -> dict:
    """{run id: record} of the store's runs."""
    # every readable run (a malformed row is skipped with a warning naming it)
    return {r["run_id"]: to_record(r) for r in sorted(store.results(), key=lambda r: r["run_id"])}


def with_committed(pool: dict, path) -> dict:
    """``pool`` over the committed raw results at ``path``: a suite built in pieces (sweep
    --shard, over several sessions) has the pieces already done there; the store's runs are
    newer and win."""
    return {**{r["run_id"]: r for r in read_records(path)}, **pool}


def committed_records(suite_name: str) -> list[dict]:
    """The committed raw results of a suite (empty when there are none yet)."""
    path = suites_dir() / f"{suite_name}.results.jsonl"
    return read_records(path) if path.exists() else []


def committed_pool() -> dict[str, dict]:
    """Run id → record of every committed suite's raw results (leaderboards/*.results.jsonl):
    config and scores, and for the runs of a curve-reading claim, its curve."""
    pool: dict[str, dict] = {}
    for path in sorted(suites_dir().glob("*.results.jsonl")):
        if path.name.endswith(".codepaths.jsonl"):
            continue
        for rec in read_records(path):
            rid = rec.get("run_id")
            if rid and not ("curve" in pool.get(rid, {}) and "curve" not in rec):
                pool[rid] = rec  # a record that keeps the curve wins over one that does not
    return pool
