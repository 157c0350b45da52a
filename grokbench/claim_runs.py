"""Checking paper claims: each claim's runs go through the ordinary sweep machinery (so they are
stored runs with ordinary run ids, and runs already stored are reused), then its checks are
computed from the stored scores (:mod:`grokbench.claims`), and the results are rendered as a
table, JSON, or the Markdown report ``leaderboards/claims.md``.

A claim's result is one of (the verdict rule: docs/science.md, "Claims"):

- ``reproduced``: every check holds on the median over seeds and on each seed alone;
- ``not reproduced``: its runs finished and a check fails on the median and on each seed;
- ``inconclusive``: no check fails on every seed, but in one the seeds straddle the bound;
- ``fail``: a run raised (the error is given), so the claim could not be measured;
- ``not run``: slow and not asked for, or some runs are missing with ``--no-run`` (the command
  and the projected cost are given);
- ``not available``: it needs a task, model or method that is not installed, or says itself why
  it cannot be checked yet.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .claims import (INCONCLUSIVE, NOT_REPRODUCED, OP_TEXT, REPRODUCED, Check, Claim, GroupResults,
                     Runs, claim_verdict, fmt_value)
from .config import run_id
from .data import atomic_write_bytes
from .errors import NotApplicable, UserError
from .grid import expand, suites_dir, validate_spec
from .records import committed_pool, read_records, records_jsonl, to_record
from .resume import saved_progress
from .scoring import to_jsonable
from .store import Store
from .sweep import (CALIBRATED, CALIBRATION_CAVEAT, committed_timings, db_timings, plan, run_seconds, run_sweep,
                    timing_of)
from .tuning import study_bests

FAIL, NOT_RUN, NOT_AVAILABLE = "fail", "not run", "not available"
PASS = REPRODUCED  # the name before the verdict rule had three outcomes
# the command exits 1 when a selected claim ends so: only a reproduced claim has been confirmed
BAD = (NOT_REPRODUCED, INCONCLUSIVE, FAIL)
#: how a check's verdict is marked in the reports
MARKS = {REPRODUCED: "✓", NOT_REPRODUCED: "✗", INCONCLUSIVE: "?"}


@dataclass
class ClaimResult:
    claim: Claim
    status: str
    reason: str = ""                                  # not available / fail / not run: why
    checks: list = field(default_factory=list)        # (Check, Measured, verdict)
    run_ids: list = field(default_factory=list)
    stored_before: int = 0                            # runs already stored (or committed)
    trained: int = 0                                  # runs trained by this call
    failed: list = field(default_factory=list)        # one-line errors of runs that raised
    wall_seconds: float = 0.0                         # this call's time on the claim
    run_seconds: float = 0.0                          # the stored wall times of its runs, summed
    projected_hours: float | None = None              # CPU-hours of the runs still missing
    calibrated_runs: int = 0                          # … of which projected from a calibration
    new_here: list = field(default_factory=list)      # configs of the missing runs of its shard
    groups: list = field(default_factory=list)        # (Runs, [(config, scores | None)])

    @property
    def runs(self) -> int:
        return len(self.run_ids)

    def measured_text(self) -> str:
        if not self.checks:
            return self.reason
        return "; ".join(f"{c.statistic.label()}: {m.text} {MARKS[v]}"
                         for c, m, v in self.checks)


def select(claims: Sequence[Claim], patterns: Sequence[str]) -> list[Claim]:
    """The claims whose name contains one of ``patterns`` (all of them when there is none); a
    pattern that matches no claim is an error naming the claims there are."""
    if not patterns:
        return list(claims)
    chosen = []
    for pattern in patterns:
        hits = [c for c in claims if pattern == c.name] or [c for c in claims if pattern in c.name]
        if not hits:
            names = ", ".join(c.name for c in claims) or "none installed"
            raise UserError(f"no claim matches -k {pattern!r}; claims: {names} (`grokbench claims --list`)")
        chosen += [c for c in hits if c not in chosen]
    return [c for c in claims if c in chosen]  # registry order


# What a curve-reading statistic (a landscape's shape) reads of each evaluation: the claims'
# committed raw results keep these, for those claims' runs only, so `--use-committed` rebuilds
# them too (a whole curve holds every metric; these 6 are a fifth of it).
CURVE_KEYS = ("step", "train_loss", "test_loss", "train_acc", "test_acc", "weight_norm")


def resolve_groups(registry, claim: Claim) -> list[tuple[Runs, list[dict]]]:
    """Each group of the claim with its resolved configs (a UserError or NotApplicable when a
    task, method or setting does not exist here)."""
    out = []
    for group in claim.groups():
        spec = validate_spec(dict(group.spec(), name=claim.name), f"claim {claim.name}")
        out.append((group, expand(registry, spec)))
    return out


def device_free_id(config: dict) -> str:
    """The id a run would have on any device: its run id with the device left out."""
    return run_id({**config, "device": None})


def computed_runs(store_path, committed: dict) -> tuple[set, dict[str, dict]]:
    """The run ids in the store and the committed pool, and device-free id → config of each
    (adopt_twins), from one read of the store."""
    # only read here (run_sweep writes): a mistyped --store is not created, and a
    # read-only store can be checked
    db = Store(store_path, readonly=True, missing_ok=True)
    try:
        stored = db.records()
    finally:
        db.close()
    records = [*committed.values(), *stored]
    return ({rec["run_id"] for rec in records},
            {device_free_id(rec["config"]): rec["config"] for rec in records if rec.get("config")})


def adopt_twins(configs: list[dict], known: dict[str, dict], done: set) -> list[dict]:
    """Each config, or where its run is not computed (``done``: run ids) but the same run on
    another device is, that run's config. The device is part of a run's id (a GPU does not
    round like a CPU), but a claim is a statement about the science: a claim whose long runs were
    computed on a GPU is checked from them on any machine, and its report says where each ran."""
    out = []
    for cfg in configs:
        twin = None if run_id(cfg) in done else known.get(device_free_id(cfg))
        out.append(twin if twin is not None else cfg)
    return out


def dealt(runs: list[dict], i: int, n: int) -> list[dict]:
    """Shard ``i`` of ``n`` of a claim's distinct runs (``runs``: sweep.plan's, in claim order),
    dealt like cards: its 1st run to shard 1, its 2nd to shard 2, ..., its (n+1)-th to shard 1
    again. A claim's groups list their seeds last, so its seeds spread over the shards: two
    cores share the two missing seeds of one arm. (A sweep's shards are contiguous pieces
    instead, so that its table cells finish whole.) Shards depend only on the claim, not on
    what is stored: the same in every session."""
    return runs[i - 1::n]


def check_claims(claims: Sequence[Claim], *, registry, store_path=None, run: Sequence[Claim] = (),
                 executor: str = "processes", workers: int | None = None, progress: bool = True,
                 use_committed: bool = False, project: bool = False, device: str | None = None,
                 shard: tuple[int, int] | None = None, selected: Sequence[Claim] = (),
                 say=None) -> list[ClaimResult]:
    """Evaluate ``claims``; those in ``run`` first get their missing runs trained (through the
    sweep machinery, into the store; on ``device`` where one is given; with ``shard`` (i, n),
    only the runs of each claim :func:`dealt` to shard i). The others are evaluated
    from what is stored (and, with ``use_committed``, the committed suites' raw results);
    ``project`` adds the projected CPU-hours of the runs still missing (of the shard's, with
    ``shard``). A run computed on another device counts (adopt_twins). ``selected``: the claims
    the call would train but for --no-run or --dry-run (a missing slow claim outside them is
    'not run' for want of --slow, and says so)."""
    committed = committed_pool() if use_committed else {}
    done, known = computed_runs(store_path, committed)
    results = []
    calibrations: dict = {}
    history: list | None = None  # recorded timings, read once and only when a projection needs them
    for claim in claims:
        if claim.unavailable:
            results.append(ClaimResult(claim, NOT_AVAILABLE, reason=claim.unavailable))
            continue
        try:
            groups = resolve_groups(registry, claim)
        except (UserError, NotApplicable) as exc:
            results.append(ClaimResult(claim, NOT_AVAILABLE, reason=f"cannot be run here: {exc}"))
            continue
        groups = [(g, adopt_twins([dict(c, device=device) if device else c for c in cfgs],
                                  known, done)) for g, cfgs in groups]
        configs = [cfg for _, cfgs in groups for cfg in cfgs]
        ids = list(dict.fromkeys(run_id(c) for c in configs))
        result = ClaimResult(claim, NOT_RUN, run_ids=ids)
        # runs the committed raw results hold need no training (with their curve, where the
        # claim reads curves)
        elsewhere = ({i for i, rec in committed.items() if "curve" in rec} if needs_curves(claim)
                     else set(committed))
        db = Store(store_path, readonly=True, missing_ok=True)
        try:
            todo = plan(configs, db, elsewhere)
        finally:
            db.close()
        result.stored_before = len(todo.stored)
        mine = dealt(todo.configs, *shard) if shard else configs
        in_shard = {run_id(c) for c in mine}
        new_here = result.new_here = [c for c in todo.new if run_id(c) in in_shard]
        t0 = time.perf_counter()
        if claim in run and new_here:
            if say:
                say(f"claim {claim.name}: {len(new_here)} of {len(ids)} runs to train"
                    + (f" (shard {shard[0]}/{shard[1]}: {len(mine)} of its runs)" if shard else ""))
            report = run_sweep(mine, executor, workers, store_path, registry=registry,
                               progress=progress, also_done=elsewhere)
            result.trained = len(report.finished)
            result.failed = [f"{cfg['task']}/{cfg['method']} seed {cfg['seed']}: {err}"
                             for cfg, err in report.failed]
        result.wall_seconds = time.perf_counter() - t0
        db = Store(store_path, readonly=True, missing_ok=True)
        try:
            pool = {r["run_id"]: r["scores"] for r in db.summaries(ids)}
            missing = [c for c in configs if run_id(c) not in pool and run_id(c) not in elsewhere]
            if missing and project:
                unique = [c for c in {run_id(c): c for c in missing}.values()
                          if run_id(c) in in_shard]
                if history is None:
                    history = db_timings(db) + committed_timings(committed.values())
                projected = projected_hours(unique, calibrations, history, db.path)
                if projected is not None:
                    result.projected_hours, result.calibrated_runs = projected
        finally:
            db.close()
        pool = {**{i: rec["scores"] for i, rec in committed.items()}, **pool}
        if not missing and needs_curves(claim):
            pool.update(with_curves(ids, store_path, committed))
        result.groups = [(g, [(c, pool.get(run_id(c))) for c in cfgs]) for g, cfgs in groups]
        result.run_seconds = sum(float(pool[i].get("wall_time") or 0.0) for i in ids if i in pool)
        if result.failed:
            result.status, result.reason = FAIL, "runs raised: " + "; ".join(result.failed)
        elif missing:
            result.status = NOT_RUN
            result.reason = (f"{len(ids) - len({run_id(c) for c in missing})} of {len(ids)} runs "
                             "stored" + ("" if claim in run or claim in selected else
                                         " (slow: add --slow)" if claim.slow else ""))
        else:
            result.checks = evaluate(claim, result.groups)
            result.status = claim_verdict([v for _, _, v in result.checks])
        results.append(result)
    return results


def needs_curves(claim: Claim) -> bool:
    return any(getattr(c.statistic, "needs_curves", False) for c in claim.checks)


def with_curves(ids, store_path, committed: dict) -> dict:
    """Scores plus ``curve`` and ``status`` of these runs, for the statistics that read curves
    (a landscape's shape): from the store, else from the committed records that keep them."""
    out = {}
    db = Store(store_path, readonly=True, missing_ok=True)
    try:
        for rid in ids:
            if db.has(rid):
                row = db.get(rid)
                out[rid] = {**row["scores"], "run_id": rid, "curve": row["curve"], "status": row["status"]}
            elif "curve" in committed.get(rid, {}):
                rec = committed[rid]
                out[rid] = {**rec["scores"], "run_id": rid, "curve": rec["curve"], "status": rec["status"]}
    finally:
        db.close()
    return out


def evaluate(claim: Claim, groups: list) -> list[tuple]:
    """(check, measured, verdict) of each check, from the groups' results."""
    by_key = {g.key: res for g, res in groups}

    def lookup(group: Runs) -> GroupResults:
        # a tuned group is scored like a tuned leaderboard row: each study by its best trial
        return study_bests(by_key[group.key]) if group.tuning else by_key[group.key]

    return [(c, m, c.verdict(m)) for c in claim.checks for m in [c.statistic.measure(lookup)]]


def projected_hours(configs, calibrations: dict, history=(), store_path=None
                    ) -> tuple[float, int] | None:
    """(CPU-hours, how many runs were projected from a calibration) of these runs at their full
    budgets, from the recorded timings of their other seeds, else of runs of the same kind
    (``history``: the store's and the committed runs', e.g. a claim's finished seeds), else a
    20-step calibration of the kind on this machine (sweep.timing_of); an interrupted run with
    resume state beside ``store_path``: what is left of it, at its own speed. A calibration
    alone moved the committed report's projections 3.5× with the machine's load; a recorded
    timing's lower quartile does not.

    From recorded timings the hours are an upper bound where runs stop early. A calibration's
    20 steps cannot see a run slow down later, so it can be far under: on a CPU, once Softmax
    Collapse drives gradients into subnormal arithmetic, precision-moves-collapse's float64 run
    cost 4.9× its calibration and the StableMax claim's float32 softmax arm ≈9×
    (CALIBRATION_CAVEAT)."""
    seconds, calibrated = 0.0, 0
    for cfg in configs:
        timing = timing_of(cfg, history, calibrations)
        if timing is None:
            return None
        calibrated += timing[2] == CALIBRATED
        seconds += run_seconds(cfg, timing[0], timing[1], saved_progress(store_path, cfg))
    return seconds / 3600, calibrated


def projection_text(r: ClaimResult) -> str:
    """How sure a claim's projected cost is: an upper bound from recorded timings, a floor where
    some runs are projected from a 20-step calibration."""
    if not r.calibrated_runs:
        return f"≈{r.projected_hours:.2f} CPU-hours at most"
    runs = "run" if r.calibrated_runs == 1 else "runs"
    return (f"≈{r.projected_hours:.2f} CPU-hours ({r.calibrated_runs} {runs} of it from a "
            f"20-step calibration, {CALIBRATION_CAVEAT})")


# -- output ---------------------------------------------------------------------------------------

def claim_command(claim: Claim) -> str:
    return f"grokbench claims -k {claim.name}" + (" --slow" if claim.slow else "")


def fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def result_text(r: ClaimResult) -> str:
    if r.status == NOT_RUN and r.projected_hours is not None:
        # as projection_text says in full: a floor where runs are priced by a calibration
        # (after Softmax Collapse a CPU run costs 5-9x its calibration), else at most
        bound = "≥" if r.calibrated_runs else "≤"
        return f"not run ({bound}{r.projected_hours:.2f} CPU-h)"
    return r.status


def runs_text(r: ClaimResult) -> str:
    if not r.run_ids:
        return "–"
    done = r.stored_before + r.trained
    return f"{done}/{r.runs}" + (f" ({r.trained} new)" if r.trained else "")


def devices(r: ClaimResult) -> list[str]:
    """The devices the claim's runs were computed on; none where that is only the CPU."""
    used = sorted({str(cfg.get("device", "cpu")) for _, res in r.groups for cfg, scores in res
                   if scores is not None})
    return [] if used == ["cpu"] else used


def time_text(r: ClaimResult) -> str:
    """The time of the claim's runs as stored (what computing it cost, whenever that was), and
    the device where it was not the CPU."""
    if not r.run_seconds:
        return "–"
    where = devices(r)
    return fmt_seconds(r.run_seconds) + (f" on {', '.join(where)}" if where else "")


def configuration_text(claim: Claim) -> str:
    n = len(claim.differences)
    return "as the paper" if not n else f"{n} difference{'s' if n > 1 else ''}"


def table_rows(results: Sequence[ClaimResult]) -> list[tuple]:
    return [(r.claim.name + (" (slow)" if r.claim.slow else ""), r.claim.paper_value,
             configuration_text(r.claim), r.measured_text(), result_text(r), runs_text(r),
             time_text(r)) for r in results]


HEADERS = ["claim", "paper says", "configuration", "we measured", "result", "runs", "run time"]


def to_jsonable_results(results: Sequence[ClaimResult]) -> list[dict]:
    out = []
    for r in results:
        c = r.claim
        out.append(to_jsonable({
            "name": c.name, "source": c.source, "statement": c.statement,
            "paper_value": c.paper_value, "slow": c.slow, "note": c.note,
            "configuration": c.configuration(), "differences": list(c.differences),
            "status": r.status, "reason": r.reason,
            "checks": [{"statistic": ch.statistic.label(), "says": ch.says, "op": ch.op,
                        "bound": list(ch.bound) if isinstance(ch.bound, tuple) else ch.bound,
                        "value": m.value, "low": m.low, "high": m.high, "runs": m.runs,
                        "per_seed": list(m.per_seed), "text": m.text, "holds": ch.holds(m),
                        "verdict": v} for ch, m, v in r.checks],
            "runs": {"total": r.runs, "stored_before": r.stored_before, "trained": r.trained,
                     "failed": len(r.failed)},
            "run_ids": r.run_ids,
            "run_seconds": r.run_seconds, "wall_seconds": r.wall_seconds,
            "projected_cpu_hours": r.projected_hours,
            "projected_runs_calibrated": r.calibrated_runs,
            "command": claim_command(c),
        }))
    return out


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(results: Sequence[ClaimResult], *, store: str, command: str, versions: str) -> str:
    """The claims report: a summary table, then each claim with its runs and checks."""
    lines = ["# Paper claims, checked", "",
             "Each claim of the papers grokbench is built on, as a small sweep of ordinary runs "
             "and a statistic of their scores, beside the paper's own value, on the paper's own "
             "configuration where grokbench has it (the configuration column says what still "
             "differs). Each check is computed on the median over seeds and on every seed alone "
             "(the seeds' values follow the median): `reproduced` (✓): it holds on the median and "
             "the seeds agree; `not reproduced` (✗): it fails on the median and the seeds agree; "
             "`inconclusive` (?): the seeds straddle the bound. A claim is reproduced when all "
             "of its checks are, not reproduced when one is not. `not run`: not computed yet "
             "(the command and the projected cost are given); `not available`: it needs "
             "something grokbench does not have yet. The science, the verdict rule and the "
             "claims' sources: docs/science.md, \"Claims\".", "",
             f"Regenerate: `{command}` (all claims, slow ones included; runs already in the store "
             "are reused). One claim: `grokbench claims -k NAME [--slow]`.", "",
             f"Built from {store}; {versions}. Run time is the summed wall time of a claim's runs "
             "as recorded (one thread per run on a shared 2-core CPU: an upper bound; where it "
             "names a GPU, the runs were computed there, several at a time on one GPU, with "
             "`grokbench claims --device cuda`: a run's device is part of its id, and a claim "
             "counts a run computed on any device).", "",
             "Raw results: the claims' runs that no suite commits are in `claims.results.jsonl` "
             "(config and scores of each run; the evaluations' losses, accuracies and weight "
             "norm too for the claims that read curves), so `grokbench claims --slow --no-run "
             "--use-committed` rebuilds this table without training.", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in table_rows(results):
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    for r in results:
        c = r.claim
        lines += ["", f"## {c.name}" + (" (slow)" if c.slow else ""), "",
                  f"**{r.status}.** {c.statement} ({c.source})", "",
                  f"- Paper: {c.paper_value}"]
        if c.note:
            lines.append(f"- Our setting: {c.note}")
        lines.append(f"- Configuration: {c.configuration()}")
        if r.reason and r.status != PASS:
            lines.append(f"- {r.status.capitalize()}: {r.reason}")
        if r.status == NOT_RUN:
            cost = (f", projected {projection_text(r)}" if r.projected_hours is not None else "")
            lines.append(f"- Run it: `{claim_command(c)}`{cost}")
        for check, m, v in r.checks:
            lines.append(f"- {MARKS[v]} {check.says or check.statistic.label()}: "
                         f"{check.statistic.label()} = {m.text}; must be "
                         f"{_op_words(check)}")
        if r.groups:
            lines += ["", "| runs | run | seed | steps-to-fit | steps-to-generalize | collapse onset "
                      "| max SC | final test acc | wall s |", "|---|---|---|---|---|---|---|---|---|"]
            for group, res in r.groups:
                for cfg, scores in res:
                    s = scores or {}
                    lines.append("| " + " | ".join(_cell(x) for x in (
                        group.describe(cfg), f"`{run_id(cfg)}`", cfg["seed"],
                        _num(s.get("steps_to_fit")), _num(s.get("steps_to_generalize")),
                        _num(s.get("collapse_onset")), _num(s.get("max_sc"), 3),
                        _num(s.get("final_test_acc"), 3), (_num(s.get("wall_time"), 0) + (
                            "" if cfg.get("device", "cpu") == "cpu" else f" ({cfg['device']})"))
                        if scores else "not run")) + " |")
    return "\n".join(lines) + "\n"


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if digits == 0:
        return f"{value:.0f}"
    return fmt_value(float(value), digits)


def _op_words(check: Check) -> str:
    return f"{OP_TEXT[check.op]} {check.bound_text()}"


def claim_records(results, store_path, out_dir: Path) -> list[dict]:
    """The raw results (leaderboard records: config and scores) of the claims' runs that no
    committed suite holds: from the store, else from the claims' own committed file; the runs
    of a curve-reading claim keep their curve (CURVE_KEYS of each evaluation). Committed as
    ``claims.results.jsonl``, they let ``--use-committed`` rebuild the report on a machine that
    never trained them."""
    ids = {rid for r in results for rid in r.run_ids}
    curve_ids = {rid for r in results if needs_curves(r.claim) for rid in r.run_ids}
    in_suites = set()
    for path in suites_dir().glob("*.results.jsonl"):
        if path.name != "claims.results.jsonl" and not path.name.endswith(".codepaths.jsonl"):
            in_suites |= {rec.get("run_id") for rec in read_records(path)}
    own = out_dir / "claims.results.jsonl"
    records = {rec["run_id"]: rec for rec in (read_records(own) if own.exists() else [])
               if rec.get("run_id") in ids}
    db = Store(store_path, readonly=True, missing_ok=True)
    try:
        # a curve-reading claim's runs are kept here with their curves, even where a suite
        # commits the same run without one (the suites' older lines)
        for rid in sorted((ids - in_suites) | curve_ids):
            if db.has(rid):
                row = db.get(rid)
                records[rid] = to_record(row)
                if rid in curve_ids:
                    keys = CURVE_KEYS + tuple(k for r in results if rid in r.run_ids
                                              for c in r.claim.checks
                                              for k in [getattr(c.statistic, "key", None)]
                                              if k and getattr(c.statistic, "needs_curves", False))
                    records[rid]["curve"] = [{k: e[k] for k in keys if k in e}
                                             for e in row["curve"]]
    finally:
        db.close()
    return [rec for rid, rec in records.items() if rid not in in_suites or rid in curve_ids]


def write_report(results, out_dir: Path, store_path=None, **meta) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js, raw = out_dir / "claims.md", out_dir / "claims.json", out_dir / "claims.results.jsonl"
    records = records_jsonl(claim_records(results, store_path, out_dir))
    atomic_write_bytes(raw, lambda fh: fh.write(records.encode("utf-8")))
    text = to_markdown(results, **meta)
    atomic_write_bytes(md, lambda fh: fh.write(text.encode("utf-8")))
    # The committed report is a function of the runs: this call's own time on each claim
    # (wall_seconds, ~1e-6 s for a call that trains nothing) would change the file at every
    # regeneration. `--json` still prints it.
    report = [{k: v for k, v in claim.items() if k != "wall_seconds"}
              for claim in to_jsonable_results(results)]
    payload = json.dumps(report, indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(js, lambda fh: fh.write(payload.encode("utf-8")))
    return [md, js, raw]
