"""Sweeps: every run of a grid through an executor, each run computed and stored once.

A run is a pure function of its resolved config (seed included) and its id is a hash of that
config, so a sweep skips the runs the store already holds: run twice, it does no work twice;
killed, it resumes where it stopped (finished runs are in the store, unfinished ones are redone).
Workers write their own results to the store, so a killed parent loses nothing that finished.

Executors are plugins (``register_executors``); the bundled ones are ``inprocess``,
``processes`` (the default: one single-threaded process per core) and ``ray``.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from .checkpoints import missing_note
from .config import ENGINE_OPTIONS, run_id, seeds_key
from .engine import eval_schedule, run
from .errors import UserError
from .registry import get_registry
from .resume import folder, saved_note, saved_progress, sigterm_stops_here
from .stats import median
from .store import Store

DEFAULT_EXECUTOR = "processes"


# -- the job each worker runs ---------------------------------------------------------------------

def run_job(config: dict, store_path: str | None) -> dict:
    """Train one run of a sweep and, when ``store_path`` is given, save it there; return a small
    outcome dict (with the whole result when there is no store path: the parent saves it).

    Runs whose own code raises (e.g. a bad setting that only the task sees) come back as an
    ``error`` string rather than an exception, so one bad run cannot stop a sweep and the
    exception need not be picklable. NaN/inf is not an error: the engine records it as a run."""
    try:
        # checkpoints are written beside the store, so only by workers that write the store
        result = run(config, progress=False, checkpoint_store=store_path)
    except Exception as exc:
        return {"run_id": run_id(config), "error": _one_line(exc)}
    if store_path is not None:
        store = Store(store_path)
        try:
            store.save(result)
        finally:
            store.close()
    return {"run_id": result["run_id"], "error": None, "status": result["status"],
            "wall_time": result["wall_time"],
            "result": None if store_path is not None else result}


def _one_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}{where}"


# -- planning and running -------------------------------------------------------------------------

@dataclass
class Plan:
    configs: list          # the grid's distinct runs, in grid order
    stored: set            # ids of those already in the store
    new: list              # configs still to run

    @property
    def total(self):
        return len(self.configs)


def plan(configs, store, also_done=frozenset()) -> Plan:
    """Drop duplicate configs (e.g. a grid value equal to the default) and split off the runs the
    store already holds (and those in ``also_done``: ids whose results are committed)."""
    unique: dict[str, dict] = {}
    for cfg in configs:
        unique.setdefault(run_id(cfg), cfg)
    stored = (store.done_ids() | set(also_done)) & set(unique)
    return Plan(list(unique.values()), stored, [c for i, c in unique.items() if i not in stored])


def stored_notes(todo: Plan, store) -> list[str]:
    """What the stored runs a sweep skips do not give that its settings ask for, one line each:
    loggers (they log while a run trains) and checkpoints (saved while it trains)."""
    if not any(c.get("loggers") or c.get("checkpoints") for c in todo.configs):
        return []
    stored = [c for c in todo.configs if run_id(c) in todo.stored and store.has(run_id(c))]
    logged = sum(bool(c.get("loggers")) for c in stored)
    lacking = sum(bool(c.get("checkpoints")) and missing_note(c, store.get(run_id(c)), store.path)
                  is not None for c in stored)
    lines = []
    if logged:
        lines.append(f"{logged} of the stored runs were read, not trained, so the loggers logged "
                     "nothing for them (grokbench run --force trains one again)")
    if lacking:
        lines.append(f"{lacking} of the stored runs lack checkpoints asked for; a sweep does not "
                     "train a stored run again (grokbench run ... --force does, and saves them)")
    return lines


def shard_of(configs: list, i: int, n: int) -> list:
    """The i-th of n contiguous pieces of the grid (in grid order, so a piece finishes whole
    task × method cells and the tables fill in cell by cell). Pieces depend only on the grid,
    not on what is stored, so ``--shard 3/10`` names the same runs in every session."""
    size = len(configs)
    return configs[(i - 1) * size // n: i * size // n]


@dataclass
class SweepReport:
    store_path: Path
    total: int
    already_stored: int
    finished: list = field(default_factory=list)  # ids trained and stored by this call
    failed: list = field(default_factory=list)    # (config, error) of runs that raised
    wall_time: float = 0.0
    summary: list = field(default_factory=list)   # rows: task, method, runs, solved, ...


def build_executor(name: str, workers: int | None, registry=None):
    registry = registry or get_registry()
    return registry.get("executors", name).obj(workers)


def run_sweep(configs, executor: str = DEFAULT_EXECUTOR, workers: int | None = None,
              store_path=None, *, registry=None, progress: bool = True,
              also_done=frozenset()) -> SweepReport:
    """Run every config the store does not hold yet through the named executor; return a report.

    The store file (and its schema) is created here, before any worker opens it."""
    registry = registry or get_registry()
    registry.get("executors", executor)  # an unknown name fails before the store is touched
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    store = Store(store_path)
    todo = plan(configs, store, also_done)
    report = SweepReport(store.path, todo.total, len(todo.stored))
    _say(f"{todo.total} runs: {len(todo.stored)} already stored in {store.path}"
         + (" or committed" if also_done else "") + f", {len(todo.new)} to run"
         + saved_note(store.path, todo.new))
    for line in stored_notes(todo, store):
        _say(line)
    t0 = time.perf_counter()
    if todo.new:
        store.check_writable()  # before any run trains, not at each run's save
        pool = build_executor(executor, workers, registry)
        # Executors whose workers may not reach this file (a cluster) hand results back instead.
        worker_store = str(store.path) if pool.store_in_worker else None
        # Keep every worker busy but do not pickle the whole grid up front (and an in-process
        # executor, which runs at submit time, still moves the bar after each run).
        window = 2 * max(1, int(pool.workers or workers or 1))
        bar = tqdm(total=len(todo.new), desc="sweep", unit="run", file=sys.stderr,
                   dynamic_ncols=True, disable=not progress, mininterval=0.5)
        pending: dict = {}  # future -> config
        queue, clean_exit = iter(todo.new), False
        # SIGTERM (a scheduler ending the job, kill) stops the sweep as Ctrl-C does; its workers
        # are sent SIGTERM in turn, and a run in progress saves its state (resume.py)
        with sigterm_stops_here():
            try:
                while True:
                    while len(pending) < window:
                        cfg = next(queue, None)
                        if cfg is None:
                            break
                        pending[pool.submit(run_job, cfg, worker_store)] = cfg
                    if not pending:
                        break
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in done:
                        cfg = pending.pop(fut)
                        try:
                            outcome = fut.result()
                        except BrokenExecutor:
                            raise UserError(
                                "a worker process died (killed, or out of memory?); the runs "
                                f"finished so far are stored in {store.path}: run the same command "
                                "again to resume") from None
                        except Exception as exc:  # e.g. a Ray worker that crashed
                            outcome = {"run_id": run_id(cfg), "error": _one_line(exc)}
                        if outcome["error"]:
                            report.failed.append((cfg, outcome["error"]))
                            bar.write(f"run {outcome['run_id']} failed ({cfg['task']}/{cfg['method']} "
                                      f"seed {cfg['seed']}): {outcome['error']}", file=sys.stderr)
                        else:
                            if outcome.get("result") is not None:
                                store.save(outcome["result"])
                            report.finished.append(outcome["run_id"])
                        bar.update(1)
                        if report.failed:
                            bar.set_postfix(failed=len(report.failed), refresh=False)
                clean_exit = True
            except KeyboardInterrupt:
                _exit_on_second_interrupt()
                # (worker processes get SIGTERM from pool.shutdown and save their state at once)
                bar.write(f"interrupted: the runs finished so far are stored in {store.path}; "
                          "runs in progress go on from their last saved state, if any "
                          f"({folder(store.path).name}); the same command resumes", file=sys.stderr)
                raise
            finally:
                bar.close()
                # On an interrupt, drop the queued runs; finished ones are already stored.
                pool.shutdown(wait=clean_exit, cancel_futures=not clean_exit)
    report.wall_time = time.perf_counter() - t0
    failed_ids = {run_id(cfg) for cfg, _ in report.failed}
    report.summary = summarize(store.summaries([run_id(c) for c in todo.configs]), todo.configs,
                               failed_ids)
    store.close()
    return report


def _exit_on_second_interrupt():
    """After a first Ctrl-C the sweep ends its workers and exits, which takes a moment; a
    second one exits at once. Raising KeyboardInterrupt again could land in that clean-up
    (e.g. while the interpreter joins the pool's threads at exit) and leave it hanging. Every
    finished run is already in the store, and workers die with this process."""
    def exit_now(signum, frame):
        os.write(2, b"\ninterrupted again: exiting now\n")
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, exit_now)
        signal.signal(signal.SIGTERM, exit_now)


def summarize(rows, configs, failed_ids) -> list[dict]:
    """Per task × method (grid order): runs in the grid, stored, solved (reached the task's
    target within the budget), failed in this call, and ``median_steps_of_solved``: the median
    steps-to-generalize of the solved runs only (None when none solved). That is not the
    leaderboard's "median steps-to-generalize", which counts a miss as ∞ over all seeds."""
    groups: dict[tuple[str, str], dict] = {}
    for cfg in configs:
        g = groups.setdefault((cfg["task"], cfg["method"]),
                              {"task": cfg["task"], "method": cfg["method"], "runs": 0,
                               "stored": 0, "solved": 0, "failed": 0, "steps": []})
        g["runs"] += 1
        g["failed"] += run_id(cfg) in failed_ids
    for row in rows:
        group = groups.get((row["task"], row["method"]))
        if group is None:
            continue
        group["stored"] += 1
        steps = row["scores"].get("steps_to_generalize")
        if steps is not None and not math.isinf(steps):
            group["solved"] += 1
            group["steps"].append(steps)
    out = []
    for g in groups.values():
        steps = sorted(g.pop("steps"))
        g["median_steps_of_solved"] = median(steps) if steps else None
        out.append(g)
    return out


def _say(text):
    print(text, file=sys.stderr, flush=True)


# -- projected cost -------------------------------------------------------------------------------

# What makes one run slower or faster per step than another of the same task: a transformer on
# modadd is ~7× slower than the MLP, a float64 loss or Muon's orthogonalization costs more than
# float32 AdamW, a minibatch less than the full set. Timings are recorded and looked up per
# kind of run (these settings), never per task alone: a transformer sweep projected from the
# MLP's timings came out 7× too cheap.
# device and precision: a GPU's or an autocast run's timing says nothing about a CPU float32 run's
SPEED_KEYS = ("task", "model", "n_layers", "width", "depth", "dtype", "precision", "loss",
              "loss_dtype", "p", "train_frac", "n_samples", "batch_size", "wrappers", "device")


def speed_kind(config: dict) -> str:
    """The kind of run, as far as its cost per step goes (SPEED_KEYS). A setting a run lacks is
    at the engine's default: runs recorded before a setting existed (precision) are of its kind."""
    return json.dumps({k: config.get(k, ENGINE_OPTIONS[k].default if k in ENGINE_OPTIONS else None)
                       for k in SPEED_KEYS}, sort_keys=True, default=str)


def _split_time(scores: dict, evaluations) -> tuple[float, float] | None:
    """(seconds per training step, seconds per evaluation) of one finished run, on a core of its
    own: where the run recorded its CPU time, its wall-clock timings are scaled by the share of
    a core it had (a run beside other jobs on the cores took longer than it cost)."""
    steps_run, wall, steps_per_s = (scores.get(k) for k in ("steps_run", "wall_time", "steps_per_s"))
    if not (steps_per_s and wall and evaluations) or not math.isfinite(steps_per_s):
        return None
    cpu = scores.get("cpu_time")
    share = min(1.0, cpu / wall) if cpu else 1.0
    t_step = 1.0 / steps_per_s
    return t_step * share, max(0.0, wall - steps_run * t_step) / evaluations * share


class Timing(NamedTuple):
    """The recorded speed of one finished run."""
    kind: str  # speed_kind
    t_step: float  # seconds per training step
    t_eval: float  # seconds per evaluation
    source: str  # "store" or "committed"
    seeds_of: str | None = None  # seeds_key: which runs are this one at another seed


def db_timings(db, per_kind: int = 10) -> list[Timing]:
    """The timings of the latest runs of each kind in the store, and of each run's other seeds
    (up to ``per_kind`` of each)."""
    out: list[Timing] = []
    count: dict[str, int] = {}
    for config, scores, curve in db.db.execute(
            "SELECT config, scores, curve FROM runs ORDER BY created_at DESC"):
        config = json.loads(config)
        kind, seeds = speed_kind(config), seeds_key(config)
        if count.get(kind, 0) >= per_kind and count.get(seeds, 0) >= per_kind:
            continue
        sc = json.loads(scores)
        t = _split_time(sc, len(json.loads(curve)))
        if t:
            count[kind] = count.get(kind, 0) + 1
            count[seeds] = count.get(seeds, 0) + 1
            out.append(Timing(kind, *t, "store", seeds))
    return out


def committed_timings(records) -> list[Timing]:
    """The timings of committed raw results."""
    out = []
    for rec in records:
        sc = rec["scores"]
        t = _split_time(sc, (rec.get("summary") or {}).get("evaluations"))
        if t:
            out.append(Timing(speed_kind(rec["config"]), *t, "committed", seeds_key(rec["config"])))
    return out


#: a timing's source when it comes from calibrate
CALIBRATED = "calibrated"
#: what a projection from a 20-step calibration cannot see (calibrate)
CALIBRATION_CAVEAT = ("which cannot see a run slow down later: on a CPU, subnormal arithmetic "
                      "after Softmax Collapse made runs 5–9× dearer than their calibration")


def calibrate(config: dict) -> tuple:
    """Seconds per training step and per evaluation of a 20-step run of this config on this
    machine (one thread, nothing stored), in the CPU time the run got rather than the wall time
    it took: with other jobs on the cores, the wall time measured the load too (a claim's
    projection moved from 8.33 to 17.55 CPU-hours between two builds of the same report)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run(dict(config, steps=20, eval_every=10, early_stop=False, threads=1,
                      loggers=[]), progress=False)
    # the share of a core this process had while it ran (1 on a quiet machine)
    share = min(1.0, (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9))
    return (result["train_time"] / 20 * share, result["eval_time"] / len(result["curve"]) * share,
            CALIBRATED)


def typical_time(values) -> float:
    """The time a run of a kind takes on a core to itself, from its recorded timings: their lower
    quartile by nearest rank (the lowest of up to 4, the 3rd lowest of 10). Load only ever slows
    a run down, so the faster timings are the machine's; the median of 2 timings is their mean,
    and one run recorded beside 9 other jobs made a projection 25× too dear."""
    xs = sorted(values)
    return xs[(len(xs) - 1) // 4]


def kind_timing(config: dict, history, cache: dict) -> tuple | None:
    """(s/step, s/evaluation, source) of this kind of run: the lower quartile of its recorded
    timings (``history``: Timing tuples; :func:`typical_time`), else a
    20-step calibration. ``cache`` holds what was worked out, per kind; None where neither
    exists (its data is not here)."""
    kind = speed_kind(config)
    if kind not in cache:
        seen = [Timing(*h) for h in history if h[0] == kind]
        if seen:
            cache[kind] = (typical_time([h.t_step for h in seen]),
                           typical_time([h.t_eval for h in seen]), seen[0].source)
        else:
            _say(f"calibrating {config['task']} ({config['model']}, 20 steps)…")
            try:
                cache[kind] = calibrate(config)
            except UserError as exc:  # e.g. its data is not on this machine: say so, go on
                _say(f"cannot calibrate {config['task']}: {exc}")
                # the task's other kinds of run are a rougher guess, and are named as one
                task = [Timing(*h) for h in history if json.loads(h[0])["task"] == config["task"]]
                cache[kind] = (typical_time([h.t_step for h in task]),
                               typical_time([h.t_eval for h in task]),
                               "other runs of the task") if task else None
    return cache[kind]


def seeds_timing(config: dict, history, cache: dict) -> tuple | None:
    """(s/step, s/evaluation) of this run's other seeds (the lower quartile of their recorded
    timings), or None where none is recorded. They predict a run better than its kind does: the
    float32 softmax arm of the StableMax claim runs at 0.13 s/step once Softmax Collapse has
    driven its logits' gradients into subnormal arithmetic, while the runs of its kind that
    generalize stop before any collapse, at 0.01 s/step (a projection 7× too cheap)."""
    seeds = seeds_key(config)
    if ("seeds", seeds) not in cache:
        seen = [h for h in (Timing(*t) for t in history) if h.seeds_of == seeds]
        cache[("seeds", seeds)] = ((typical_time([h.t_step for h in seen]),
                                    typical_time([h.t_eval for h in seen])) if seen else None)
    return cache[("seeds", seeds)]


FROM_SEEDS = "its other seeds"


def timing_of(config: dict, history, cache: dict) -> tuple | None:
    """(s/step, s/evaluation, source) of one run: its other seeds' timings (seeds_timing; source
    FROM_SEEDS), else its kind's (kind_timing: "store", "committed", CALIBRATED or "other runs
    of the task"); None where neither can be had."""
    own = seeds_timing(config, history, cache)
    if own:
        return (*own, FROM_SEEDS)
    kind = kind_timing(config, history, cache)
    return None if kind is None else kind


def run_seconds(config: dict, t_step: float, t_eval: float, saved=None) -> float:
    """A run's cost at its full budget: every step and every scheduled evaluation. ``saved``:
    (step, s/step, s/evaluation) of an interrupted run's resume state (resume.saved_progress):
    then only what is left of it, at the speed it had."""
    steps = int(config["steps"])
    schedule = eval_schedule(steps, int(config["eval_every"]), int(config["evals_per_decade"]))
    if saved is None:
        return steps * t_step + t_eval * len(schedule)
    done, t_step, t_eval = saved
    return (steps - done) * t_step + t_eval * sum(1 for s in schedule if s > done)


def projection(configs, history, registry=None, store_path=None) -> tuple[list, float]:
    """Rows (what, new runs, s/step, s/eval, source, CPU-hours) and the total CPU-hours, per
    kind of run (SPEED_KEYS), from measured timings: a run's other seeds' recorded timings,
    else the lower quartile of its kind's, else a short calibration; a run interrupted with
    resume state beside ``store_path`` costs what is left of it at its own speed (the row's
    source says how many of each). A row's s/step and s/eval are those its runs are projected
    at (averaged, weighted by steps and evaluations). A row is named by its task, and by the
    settings that set its kind apart from the task's other kinds here."""
    by_kind: dict[str, list[dict]] = {}
    for cfg in configs:
        by_kind.setdefault(speed_kind(cfg), []).append(cfg)
    kinds_of_task: dict[str, list[dict]] = {}
    for cfgs in by_kind.values():
        kinds_of_task.setdefault(cfgs[0]["task"], []).append(cfgs[0])
    rows, total = [], 0.0
    cache: dict = {}
    for cfgs in by_kind.values():
        first = cfgs[0]
        others = kinds_of_task[first["task"]]
        differ = [k for k in SPEED_KEYS if len({str(c.get(k)) for c in others}) > 1]
        name = first["task"] + (f" ({', '.join(f'{k}={first.get(k)}' for k in differ)})"
                                if differ else "")
        timing = kind_timing(first, history, cache)
        if timing is None:
            rows.append((name, len(cfgs), "?", "?", "cannot calibrate (its data is not here)", "?"))
            continue
        source = timing[2]
        # the kind has a timing, so each run has one
        own = [timing_of(c, history, cache) or timing for c in cfgs]
        saved = [saved_progress(store_path, c) for c in cfgs]
        seconds = sum(run_seconds(c, t[0], t[1], s) for c, t, s in zip(cfgs, own, saved))
        # what the row's runs are projected at, for its s/step and s/eval columns
        steps = sum(int(c["steps"]) for c in cfgs)
        evals = [len(eval_schedule(int(c["steps"]), int(c["eval_every"]), int(c["evals_per_decade"])))
                 for c in cfgs]
        t_step = sum(int(c["steps"]) * t[0] for c, t in zip(cfgs, own)) / steps
        t_eval = sum(n * t[1] for n, t in zip(evals, own)) / max(sum(evals), 1)
        from_seeds = sum(1 for t in own if t[2] == FROM_SEEDS)
        if from_seeds:
            source = (f"{from_seeds} of {len(cfgs)} from their other seeds' timings"
                      + (f", {source} for the rest" if from_seeds < len(cfgs) else ""))
        resumed = sum(s is not None for s in saved)
        if resumed:
            source += f"; {resumed} resumed: what is left, at its own speed"
        total += seconds / 3600
        rows.append((name, len(cfgs), f"{t_step:.4f}", f"{t_eval:.3f}", source,
                     f"{seconds / 3600:.2f}"))
    return rows, total
