"""Sweeps: every run of a grid through an executor, each run computed and stored once.

A run is a pure function of its resolved config (seed included) and its id is a hash of that
config, so a sweep skips the runs the store already holds: run twice, it does no work twice;
killed, it resumes where it stopped (finished runs are in the store, unfinished ones are redone).
Workers write their own results to the store, so a killed parent loses nothing that finished.

Executors are plugins (``register_executors``); the bundled ones are ``inprocess``,
``processes`` (the default: one single-threaded process per core) and ``ray``.
"""
from __future__ import annotations

import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .stats import median

DEFAULT_EXECUTOR = "processes"


# -- the job each worker runs ---------------------------------------------------------------------

def run_job(config: dict, store_path: str | None) -> dict:
    """Train one run of a sweep and, when ``store_path`` is given, save it there; return a small
    outcome dict (with the whole result when there is no store path: the parent saves it).

    Runs whose own code raises (e.g. a bad setting that only the task sees) come back as an
    ``error`` string rather than an exception, so one bad run cannot stop a sweep and the
    exception need not be picklable. NaN/inf is not an error: the engine records it as a run."""
    from .config import run_id
    from .engine import run
    from .store import Store
    try:
        result = run(config, progress=False)
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
    from .config import run_id
    unique: dict[str, dict] = {}
    for cfg in configs:
        unique.setdefault(run_id(cfg), cfg)
    stored = (store.done_ids() | set(also_done)) & set(unique)
    return Plan(list(unique.values()), stored, [c for i, c in unique.items() if i not in stored])


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
    from .registry import get_registry
    registry = registry or get_registry()
    return registry.get("executors", name).obj(workers)


def run_sweep(configs, executor: str = DEFAULT_EXECUTOR, workers: int | None = None,
              store_path=None, *, registry=None, progress: bool = True,
              also_done=frozenset()) -> SweepReport:
    """Run every config the store does not hold yet through the named executor; return a report.

    The store file (and its schema) is created here, before any worker opens it."""
    from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait

    from tqdm import tqdm

    from .config import run_id
    from .registry import get_registry
    from .store import Store

    registry = registry or get_registry()
    registry.get("executors", executor)  # an unknown name fails before the store is touched
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    store = Store(store_path)
    todo = plan(configs, store, also_done)
    report = SweepReport(store.path, todo.total, len(todo.stored))
    _say(f"{todo.total} runs: {len(todo.stored)} already stored in {store.path}"
         + (" or committed" if also_done else "") + f", {len(todo.new)} to run")
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
            bar.write(f"interrupted: the runs finished so far are stored in {store.path}; "
                      "the runs in progress are dropped; the same command resumes", file=sys.stderr)
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
    import signal
    import threading

    def exit_now(signum, frame):
        os.write(2, b"\ninterrupted again: exiting now\n")
        os._exit(130)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, exit_now)


def summarize(rows, configs, failed_ids) -> list[dict]:
    """Per task × method (grid order): runs in the grid, stored, solved (reached the task's
    target within the budget), failed in this call, and ``median_steps_of_solved``: the median
    steps-to-generalize of the solved runs only (None when none solved). That is not the
    leaderboard's "median steps-to-generalize", which counts a miss as ∞ over all seeds."""
    from .config import run_id
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

def committed_records(suite_name: str) -> list[dict]:
    """The committed raw results of a suite (empty when there are none yet)."""
    from .grid import suites_dir
    from .leaderboard import read_records
    path = suites_dir() / f"{suite_name}.results.jsonl"
    return read_records(path) if path.exists() else []


def _split_time(steps_run, wall, steps_per_s, evaluations):
    """(seconds per training step, seconds per evaluation) of one finished run."""
    if not (steps_per_s and wall and evaluations) or not math.isfinite(steps_per_s):
        return None
    t_step = 1.0 / steps_per_s
    return t_step, max(0.0, wall - steps_run * t_step) / evaluations


def db_timings(db, per_task: int = 10) -> list[tuple]:
    """(task, s/step, s/evaluation) of the latest runs of each task in the store."""
    import json
    out = []
    tasks = [r[0] for r in db.db.execute("SELECT DISTINCT task FROM runs")]
    for task in tasks:
        for scores, curve in db.db.execute(
                "SELECT scores, curve FROM runs WHERE task=? ORDER BY created_at DESC LIMIT ?",
                (task, per_task)):
            sc = json.loads(scores)
            t = _split_time(sc.get("steps_run"), sc.get("wall_time"), sc.get("steps_per_s"),
                            len(json.loads(curve)))
            if t:
                out.append((task, *t, "store"))
    return out


def committed_timings(records) -> list[tuple]:
    out = []
    for rec in records:
        sc = rec["scores"]
        t = _split_time(sc.get("steps_run"), sc.get("wall_time"), sc.get("steps_per_s"),
                        (rec.get("summary") or {}).get("evaluations"))
        if t:
            out.append((rec["task"], *t, "committed"))
    return out


def calibrate(config: dict) -> tuple:
    """Seconds per training step and per evaluation of a 20-step run of this config on this
    machine (one thread, nothing stored)."""
    from .engine import run
    result = run(dict(config, steps=20, eval_every=10, early_stop=False, threads=1,
                      loggers=[]), progress=False)
    return result["train_time"] / 20, result["eval_time"] / len(result["curve"]), "calibrated"


def projection(configs, history, registry) -> tuple[list, float]:
    """Rows (task, new runs, s/step, s/eval, source, CPU-hours) and the total CPU-hours, from
    measured timings: the median over the task's recorded runs, else a short calibration."""
    from .engine import eval_schedule
    by_task: dict[str, list[dict]] = {}
    for cfg in configs:
        by_task.setdefault(cfg["task"], []).append(cfg)
    rows, total = [], 0.0
    for task, cfgs in by_task.items():
        seen = [(a, b, src) for t, a, b, src in history if t == task]
        if seen:
            t_step, t_eval, source = median([a for a, _, _ in seen]), median([b for _, b, _ in seen]), seen[0][2]
        else:
            _say(f"calibrating {task} (20 steps)…")
            try:
                t_step, t_eval, source = calibrate(cfgs[0])
            except UserError as exc:  # e.g. its data is not on this machine: say so, go on
                rows.append((task, len(cfgs), "?", "?", f"cannot calibrate: {exc}", "?"))
                continue
        seconds = sum(int(c["steps"]) * t_step + t_eval * len(eval_schedule(
            int(c["steps"]), int(c["eval_every"]), int(c["evals_per_decade"]))) for c in cfgs)
        total += seconds / 3600
        rows.append((task, len(cfgs), f"{t_step:.4f}", f"{t_eval:.3f}", source, f"{seconds / 3600:.2f}"))
    return rows, total
