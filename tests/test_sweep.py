"""Sweeps: grids from the command line and TOML files, skipping stored runs, resuming after a
SIGKILL (real subprocess, killed with its workers), several real processes writing one SQLite
file, failures that do not stop a sweep, and executors as plugins."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from grokbench import hookimpl
from grokbench.cli import cli
from grokbench.config import run_id
from grokbench.errors import UserError
from grokbench.grid import expand
from grokbench.registry import Registry
from grokbench.store import Store
from grokbench.grid import build_spec, parse_grid, parse_seeds
from grokbench.sweep import run_sweep, summarize

TINY = ("--set", "p=23", "--set", "steps=50")  # ~0.2 s a run
ONE_THREAD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def tiny_configs(registry, seeds=(0,), **grid):
    spec = build_spec(None, None, ("modadd",), ("baseline",), ",".join(map(str, seeds)),
                      [f"{k}={','.join(map(str, v))}" for k, v in grid.items()],
                      ("p=23", "steps=50"), None)
    return expand(registry, spec)


def stored_rows(path):
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT run_id, created_at FROM runs").fetchall())


# -- parsing and planning ---------------------------------------------------------------------------

def test_seeds_and_grid_values_parse():
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]
    assert parse_seeds("3,3,1") == [3, 1]
    assert parse_grid(["lr=0.01,0.001", "betas=[0.9,0.98],[0.9,0.99]", "wrappers=[]",
                       "dtype=float32,float64"]) == {
        "lr": [0.01, 0.001], "betas": [[0.9, 0.98], [0.9, 0.99]], "wrappers": [[]],
        "dtype": ["float32", "float64"]}
    with pytest.raises(UserError, match="--seeds"):
        parse_seeds("a-b")
    with pytest.raises(UserError, match="--seeds"):  # the seed axis is --seeds, not --set/--grid
        build_spec(None, None, ("modadd",), (), None, ["seed=1,2"], (), None)


def test_dry_run_counts_the_grid_and_what_is_stored(registry, tmp_path):
    db = tmp_path / "runs.db"
    args = ["sweep", "--task", "modadd,modmul", "--method", "baseline", "--method", "perpgrad",
            "--seeds", "0-2", "--grid", "lr=0.01,0.003", *TINY, "--store", str(db), "--dry-run"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    # 2 tasks × 2 methods × 3 seeds × 2 learning rates
    assert "24 runs in the grid (2 tasks × 2 methods × 3 seeds × 2 lr): 0 already stored" in out.output
    assert "24 new" in out.output
    # Store two of them (through the sweep itself), then count again.
    configs = tiny_configs(registry, seeds=(0, 1), lr=[0.01])
    report = run_sweep(configs, "inprocess", store_path=db, progress=False)
    assert len(report.finished) == 2 and not report.failed
    out = CliRunner().invoke(cli, args)
    assert "2 already stored" in out.output and "22 new" in out.output
    # A grid value equal to the default is the same run, counted once (modadd's lr is 0.01).
    out = CliRunner().invoke(cli, ["sweep", "--task", "modadd", "--seeds", "0",
                                   "--grid", "lr=0.01,0.01", *TINY, "--store", str(db), "--dry-run"])
    assert "1 runs in the grid" in out.output and ": 1 already stored" in out.output


def test_grid_from_a_toml_file_with_command_line_overrides(registry, tmp_path, monkeypatch):
    grid = tmp_path / "grid.toml"
    grid.write_text(textwrap.dedent("""
        description = "two tasks, one with its own prime"
        tasks = ["modadd", "modsub"]
        methods = ["baseline", "wd"]
        seeds = [0, 1]
        settings = {steps = 50, p = 23}
        task_settings = {modsub = {p = 29}}
        [grid]
        lr = [0.01, 0.003]
    """))
    configs = expand(registry, build_spec(None, grid, (), (), None, (), (), None))
    assert len(configs) == 2 * 2 * 2 * 2
    assert {(c["task"], c["p"]) for c in configs} == {("modadd", 23), ("modsub", 29)}
    assert {c["lr"] for c in configs} == {0.01, 0.003} and {c["steps"] for c in configs} == {50}
    assert {c["weight_decay"] for c in configs if c["method"] == "wd"} != {0.0}
    # The command line replaces the file's lists and adds to its settings.
    spec = build_spec(None, grid, ("modadd",), (), "5", (), ("steps=60",), None)
    configs = expand(registry, spec)
    assert len(configs) == 1 * 2 * 1 * 2 and {c["seed"] for c in configs} == {5}
    assert {c["steps"] for c in configs} == {60}
    # A suite is such a file in the suites folder, named without its suffix.
    monkeypatch.setenv("GROKBENCH_SUITES_DIR", str(tmp_path))
    assert expand(registry, build_spec("grid", None, (), (), None, (), (), None)) == \
        expand(registry, build_spec(None, grid, (), (), None, (), (), None))
    with pytest.raises(UserError, match="unknown suite 'nope'; suites: grid"):
        build_spec("nope", None, (), (), None, (), (), None)
    with pytest.raises(UserError, match="no grid file"):
        build_spec(None, tmp_path / "missing.toml", (), (), None, (), (), None)


def test_grid_file_spellings_of_one_value_are_one_run(registry, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(textwrap.dedent("""
        tasks = ["modadd"]
        methods = ["wd+perpgrad", "perpgrad+wd", "perpgrad+wd+"]
        seeds = "0-3"
        settings = {steps = 50, p = 23}
        [grid]
        weight_decay = [0, 0.0, "0"]
        bias = [true, 1, "true"]
    """))
    spec = build_spec(None, grid, (), (), None, (), (), None)
    assert spec["seeds"] == [0, 1, 2, 3]  # a range, not the characters "0", "-", "3"
    configs = expand(registry, spec)
    assert len(configs) == 3 * 4 * 3 * 3 and len({run_id(c) for c in configs}) == 4
    out = CliRunner().invoke(cli, ["sweep", "--file", str(grid), "--store", str(tmp_path / "r.db"),
                                   "--dry-run"])
    assert out.exit_code == 0 and "4 runs in the grid" in out.output, out.output
    grid.write_text('tasks = ["modadd"]\nmethods = ["wd"]\nseeds = ["0-1", 5]\n')
    assert build_spec(None, grid, (), (), None, (), (), None)["seeds"] == [0, 1, 5]
    grid.write_text('tasks = ["modadd"]\nmethods = ["wd"]\nseeds = "zero"\n')
    with pytest.raises(UserError, match="grid.toml: 'seeds' takes integers and ranges"):
        build_spec(None, grid, (), (), None, (), (), None)


def test_summary_counts_solved_runs_and_their_median():
    configs = [{"task": "t", "method": "m", "seed": s} for s in range(4)]
    rows = [{"task": "t", "method": "m", "scores": {"steps_to_generalize": v}}
            for v in (100, float("inf"), 300)]
    (row,) = summarize(rows, configs, failed_ids={run_id(configs[3])})
    assert row == {"task": "t", "method": "m", "runs": 4, "stored": 3, "solved": 2, "failed": 1,
                   "median_steps_of_solved": 200.0}
    # the leaderboard's "median steps-to-generalize" of the same runs counts the miss as ∞
    from grokbench.leaderboard import method_row
    recs = [{"config": {"seed": i}, "scores": r["scores"]} for i, r in enumerate(rows)]
    assert method_row("m", recs)["steps_to_generalize"] == 300


# -- running ------------------------------------------------------------------------------------

def test_a_second_sweep_does_no_work_and_a_failed_run_does_not_stop_it(registry, tmp_path):
    db = tmp_path / "runs.db"
    # p=24 is no prime: the task refuses it at run time. It runs first; the others still run.
    configs = tiny_configs(registry, p=[24, 23]) + tiny_configs(registry, seeds=(1,))
    report = run_sweep(configs, "inprocess", store_path=db, progress=False)
    bad = run_id(configs[0])
    assert [run_id(c) for c, _ in report.failed] == [bad]
    assert "p must be a prime" in report.failed[0][1]
    assert set(stored_rows(db)) == {run_id(c) for c in configs[1:]}  # the failure is not stored
    before = stored_rows(db)
    again = run_sweep(configs[1:], "inprocess", store_path=db, progress=False)
    assert again.finished == [] and again.already_stored == 2 and stored_rows(db) == before


def test_sweep_killed_with_sigkill_resumes_without_redoing_or_losing_runs(tmp_path):
    db = tmp_path / "runs.db"
    total = 2 * 4  # 2 methods × 4 seeds
    cmd = [sys.executable, "-m", "grokbench", "sweep", "--task", "modadd",
           "--method", "baseline,perpgrad", "--seeds", "0-3", "--set", "p=23",
           "--set", "steps=100", "--workers", "2", "--store", str(db), "-q"]
    # Its own session and process group, so the kill reaches the workers too.
    proc = subprocess.Popen(cmd, env=ONE_THREAD_ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and len(_count_finished(db)) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed: make runs longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_until_group_is_gone(proc.pid)
    before = stored_rows(db)
    assert 2 <= len(before) < total, f"kill should land halfway, {len(before)} of {total} stored"

    # Resumed with one worker: the worker count is no part of a run's identity.
    cmd[cmd.index("--workers") + 1] = "1"
    again = subprocess.run(cmd, env=ONE_THREAD_ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{total} runs: {len(before)} already stored" in again.stderr
    assert f"trained {total - len(before)} runs" in again.stdout
    after = stored_rows(db)
    assert len(after) == total
    # Nothing finished before the kill was trained again (its row would be rewritten).
    assert {k: after[k] for k in before} == before
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # A run is a pure function of its config: a worker's curve equals the same run trained here.
    from grokbench.engine import run
    stored = Store(db).results(method="perpgrad")[0]
    here = run(stored["config"], progress=False)
    assert stored["curve"] == json.loads(json.dumps(here["curve"]))


def _count_finished(db):
    try:
        return stored_rows(db)
    except sqlite3.OperationalError:  # the parent is still creating the schema
        return {}


def _wait_until_group_is_gone(pgid, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} outlived SIGKILL")


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from grokbench.store import Store
    path, who, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    (go.parent / f"ready{who}").touch()
    while not go.exists():
        time.sleep(0.001)
    def result(rid, method, seed):
        cfg = {"task": "t", "method": method, "seed": seed}
        return {"run_id": rid, "config": cfg, "status": "finished", "scores": {"x": seed},
                "curve": [{"step": s, "test_acc": 0.5} for s in range(200)],
                "versions": {}, "wall_time": 0.0}
    start = time.time()
    store = Store(path)  # every writer opens (and creates) the fresh file at the same moment
    for i in range(n):
        store.save(result(f"w{who}-{i}", f"writer{who}", i))
        store.save(result(f"shared-{i}", "shared", i))  # the same runs from every writer: replaced, not doubled
    store.close()
    print(start, time.time())
""")


def test_several_processes_write_one_sqlite_store_at_once(tmp_path):
    db, go, writers, n = tmp_path / "runs.db", tmp_path / "go", 3, 50
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(w), str(n), str(go)],
                              env=ONE_THREAD_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for w in range(writers)]
    deadline = time.monotonic() + 120  # all imported and waiting at the gate, then go at once
    while len(list(tmp_path.glob("ready*"))) < writers and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    spans = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        spans.append([float(t) for t in out.split()])
    assert max(s for s, _ in spans) < min(e for _, e in spans), f"writers did not overlap: {spans}"
    store = Store(db)
    rows = store.results()
    assert len(rows) == writers * n + n
    assert [len(store.results(method=f"writer{w}")) for w in range(writers)] == [n] * writers
    assert all(len(r["curve"]) == 200 for r in rows)
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_worker_processes_run_one_thread_each():
    from grokbench_plugins.executors import ProcessesExecutor
    ex = ProcessesExecutor(1)
    try:
        env = ex.submit(_environ, "OMP_NUM_THREADS").result(timeout=120)
        threads = ex.submit(_torch_threads).result(timeout=120)
    finally:
        ex.shutdown()
    assert env == "1" and threads == 1


def _environ(name):
    return os.environ.get(name)


def _torch_threads():
    import torch
    return torch.get_num_threads()


# -- executors are plugins ------------------------------------------------------------------------

class ThreadsExecutor:
    """A third party's executor; it hands results back (store_in_worker False), as a cluster's
    would, so the sweep's process stores them."""
    store_in_worker = False
    submitted = []

    def __init__(self, workers):
        self.workers = workers or 1
        self.pool = ThreadPoolExecutor(self.workers)

    def submit(self, fn, *args):
        ThreadsExecutor.submitted.append(args[0]["seed"])
        return self.pool.submit(fn, *args)

    def shutdown(self, wait=True, cancel_futures=False):
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class ThirdPartyPlugin:
    @hookimpl
    def register_executors(register):
        register("threads", ThreadsExecutor, "a thread pool (test plugin)")


def test_a_third_party_executor_plugs_in(registry, tmp_path):
    reg = Registry().load_entry_points()
    reg.add_plugin(ThirdPartyPlugin, "thirdparty")
    assert {"inprocess", "processes", "ray", "threads"} <= set(reg.names("executors"))
    assert reg.get("executors", "threads").plugin == "thirdparty"
    db = tmp_path / "runs.db"
    configs = tiny_configs(registry, seeds=(0, 1))
    report = run_sweep(configs, "threads", workers=1, store_path=db, registry=reg, progress=False)
    assert sorted(ThreadsExecutor.submitted) == [0, 1]
    assert set(stored_rows(db)) == set(report.finished) == {run_id(c) for c in configs}
    with pytest.raises(UserError, match="unknown executor 'slurm'"):
        run_sweep(tiny_configs(registry, seeds=(7,)), "slurm", store_path=db, registry=reg)


def test_the_ray_plugin_loads_without_ray_and_says_how_to_get_it(registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: import ray fails
    with pytest.raises(UserError, match=r"pip install 'grokbench\[ray\]'"):
        registry.get("executors", "ray").obj(1)


# -- suites built in pieces, and what they will cost ------------------------------------------------

def test_shards_cover_the_grid_once_in_contiguous_pieces():
    from grokbench.grid import parse_shard
    from grokbench.sweep import shard_of
    grid = list(range(171))
    pieces = [shard_of(grid, i, 57) for i in range(1, 58)]
    assert [x for p in pieces for x in p] == grid and {len(p) for p in pieces} == {3}
    assert shard_of(list(range(10)), 2, 3) == [3, 4, 5]
    assert parse_shard("3/10") == (3, 10) and parse_shard(None) is None
    for bad in ("0/4", "5/4", "a/b", "3"):
        with pytest.raises(UserError, match="--shard"):
            parse_shard(bad)


def test_projected_cost_from_recorded_timings(registry):
    """1000 steps evaluated every 100 (every step to 10, 10 log-spaced points per decade to 100,
    then every 100): 30 evaluations. At 0.01 s a step and 0.1 s an evaluation, 13 s a run."""
    from grokbench.engine import eval_schedule
    from grokbench.sweep import projection
    configs = tiny_configs(registry, seeds=(0, 1, 2))
    configs = [dict(c, steps=1000, eval_every=100) for c in configs]
    assert len(eval_schedule(1000, 100, 10)) == 30
    from grokbench.sweep import speed_kind
    rows, hours = projection(configs, [(speed_kind(configs[0]), 0.01, 0.1, "store")], registry)
    assert rows == [("modadd", 3, "0.0100", "0.100", "store", f"{39 / 3600:.2f}")]
    assert hours == pytest.approx(39 / 3600)


def test_projection_times_each_kind_of_run_by_its_own_timings(registry):
    """A transformer run is not projected from the MLP's timings of the same task (that made a
    transformer sweep look 7× cheaper than it is): each kind has its row and its timings."""
    from grokbench.sweep import projection, speed_kind
    mlp = [dict(c, steps=1000, eval_every=100) for c in tiny_configs(registry, seeds=(0, 1))]
    transformer = [dict(c, model="transformer") for c in mlp]
    history = [(speed_kind(mlp[0]), 0.01, 0.1, "store"), (speed_kind(transformer[0]), 0.07, 0.5, "store")]
    rows, hours = projection(mlp + transformer, history, registry)
    assert rows == [("modadd (model=mlp)", 2, "0.0100", "0.100", "store", f"{26 / 3600:.2f}"),
                    ("modadd (model=transformer)", 2, "0.0700", "0.500", "store",
                     f"{2 * (70 + 15) / 3600:.2f}")]
    assert hours == pytest.approx((26 + 170) / 3600)


def test_a_run_is_projected_from_its_other_seeds_before_its_kind(registry, tmp_path):
    """The StableMax claim's float32 softmax arm collapses into subnormal arithmetic (13× slower
    a step) while the runs of its kind that generalize stop before any collapse: its seed 2 was
    projected 7× too cheap from its kind. A run's other seeds set its projection; runs without
    recorded seeds keep their kind's. 1000 steps, 30 evaluations a run (as above)."""
    from grokbench.sweep import Timing, db_timings, projection, seeds_key, speed_kind
    collapsing = [dict(c, steps=1000, eval_every=100) for c in tiny_configs(registry, seeds=(0, 1, 2))]
    other = dict(collapsing[0], lr=0.002, seed=2)  # the same kind, another run
    kind = speed_kind(collapsing[0])
    history = [Timing(kind, 0.01, 0.1, "store", seeds_key(dict(other, lr=0.003))),
               Timing(kind, 0.13, 0.2, "committed", seeds_key(collapsing[0])),   # seed 0
               Timing(kind, 0.15, 0.4, "store", seeds_key(collapsing[1]))]      # seed 1
    rows, hours = projection([collapsing[2], other], history, registry)
    # seed 2 at its seeds' lower quartile (the faster of 2): 1000 × 0.13 + 30 × 0.2 = 136 s;
    # the other run at its kind's lower quartile (the fastest of 3): 10 + 3 = 13 s
    assert hours * 3600 == pytest.approx(136 + 13)
    assert rows == [("modadd", 2, f"{(130 + 10) / 2000:.4f}", f"{(6 + 3) / 60:.3f}",
                     "1 of 2 from their other seeds' timings, store for the rest",
                     f"{149 / 3600:.2f}")]
    # a store's timings say which runs are a run's other seeds
    db = tmp_path / "runs.db"
    run_sweep(tiny_configs(registry), "inprocess", store_path=db, progress=False)
    store = Store(db, readonly=True)
    try:
        (timing,) = db_timings(store)
    finally:
        store.close()
    assert timing.seeds_of == seeds_key(tiny_configs(registry, seeds=(7,))[0])
    assert timing.seeds_of != seeds_key(tiny_configs(registry, lr=[0.002])[0])


def test_a_timing_is_what_the_run_cost_on_a_core_of_its_own(registry, tmp_path):
    """A run beside other jobs takes longer than it costs: its recorded CPU time scales its
    wall-clock timings. 100 steps at 10 a second (10 s) in 20 s with 10 evaluations (10 s), but
    5 CPU-seconds: a quarter of a core, so 0.025 s a step and 0.25 s an evaluation."""
    from grokbench.sweep import committed_timings, db_timings
    scores = {"steps_run": 100, "wall_time": 20.0, "steps_per_s": 10.0}
    record = {"config": tiny_configs(registry)[0], "summary": {"evaluations": 10}}
    (alone,) = committed_timings([dict(record, scores=scores)])
    (shared,) = committed_timings([dict(record, scores=dict(scores, cpu_time=5.0))])
    assert alone[1:3] == pytest.approx((0.1, 1.0))
    assert shared[1:3] == pytest.approx((0.025, 0.25))
    # a run records the CPU time it took, and a store's timings use it
    db = tmp_path / "runs.db"
    run_sweep(tiny_configs(registry), "inprocess", store_path=db, progress=False)
    store = Store(db, readonly=True)
    try:
        (row,) = store.summaries([run_id(tiny_configs(registry)[0])])
        (timing,) = db_timings(store)
    finally:
        store.close()
    sc = row["scores"]
    assert 0 < sc["cpu_time"] and timing.t_step == pytest.approx(
        min(1.0, sc["cpu_time"] / sc["wall_time"]) / sc["steps_per_s"])


def test_pairs_that_cannot_run_are_listed_not_failed(registry, tmp_path):
    spec = build_spec(None, None, ("teacher-student", "parity"), ("stablemax", "wd"), "0", (),
                      ("steps=5",), None)
    skipped = []
    configs = expand(registry, spec, skipped)
    assert [(c["task"], c["method"]) for c in configs] == [
        ("teacher-student", "wd"), ("parity", "stablemax"), ("parity", "wd")]
    assert skipped == [("teacher-student", "stablemax",
                        "loss 'stablemax' applies to classification tasks; 'teacher-student' is a "
                        "regression task")]
    with pytest.raises(UserError, match="applies to classification tasks"):
        expand(registry, spec)  # a single run of such a pair is a one-line error


# -- interrupts and a killed parent: real processes --------------------------------------------------

def _start_sweep(db, seeds="0-7", steps=400):
    cmd = [sys.executable, "-m", "grokbench", "sweep", "--task", "modadd", "--seeds", seeds,
           "--set", "p=23", "--set", f"steps={steps}", "--workers", "2", "--store", str(db), "-q"]
    # Its own session and process group: the test signals the group, as a terminal's Ctrl-C does.
    # SIGINT handled as in a terminal, even when pytest itself was started in the background
    # (a shell's background job ignores SIGINT, and its children inherit that).
    return subprocess.Popen(cmd, env=ONE_THREAD_ENV, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_stored(proc, db, n, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and len(_count_finished(db)) >= n:
            return
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before the signal: make runs longer"
    raise AssertionError(f"fewer than {n} runs stored in {timeout} s")


def _children(pid):
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(stat))
    return out


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_a_sweep_within_seconds_keeping_finished_runs(tmp_path, presses):
    db = tmp_path / "runs.db"
    proc = _start_sweep(db)
    _wait_for_stored(proc, db, 1)
    workers = _children(proc.pid)
    assert workers, "the sweep has no worker processes"
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    if presses == 2:
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the sweep did not stop within 15 s of Ctrl-C") from None
    took = time.monotonic() - t0
    # 130: the CLI's exit code for an interrupt; -SIGINT: a second Ctrl-C that came while the
    # interpreter was finishing (it restores the default handler then): both exit at once.
    assert proc.returncode in (130, -signal.SIGINT), err
    assert took < 10, f"took {took:.1f} s to stop"
    assert "Traceback" not in err, err
    assert "interrupted" in err
    kept = stored_rows(db)
    assert 1 <= len(kept) < 8  # finished runs are kept, the queued ones were not trained
    end = time.monotonic() + 5
    while any(_pid_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not any(_pid_alive(w) for w in workers), "worker processes outlived the sweep"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The same command resumes: what was kept is not trained again.
    again = subprocess.run([sys.executable, "-m", "grokbench", "sweep", "--task", "modadd",
                            "--seeds", "0-7", "--set", "p=23", "--set", "steps=400",
                            "--store", str(db), "--dry-run"],
                           env=ONE_THREAD_ENV, capture_output=True, text=True, timeout=120)
    assert f"{len(kept)} already stored" in again.stdout, again.stdout + again.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_sweep_killed_by_sigkill(tmp_path):
    db = tmp_path / "runs.db"
    proc = _start_sweep(db, steps=2000)
    _wait_for_stored(proc, db, 0)
    deadline = time.monotonic() + 120
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert workers, "the sweep has no worker processes"
    os.kill(proc.pid, signal.SIGKILL)  # the parent only, not its group
    proc.wait()
    # A worker killed while still importing torch (before its initializer asks the kernel for
    # PR_SET_PDEATHSIG) exits when the initializer runs and sees itself re-parented; on a loaded
    # 2-core machine that import alone took over 10 s, so allow a minute.
    end = time.monotonic() + 60
    while any(_pid_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.05)
    alive = [w for w in workers if _pid_alive(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their killed parent"


@pytest.mark.parametrize("name", ["../../x", "../x", "/tmp/x", "sub/x", "..", ".hidden"])
def test_a_suite_is_a_name_not_a_path(tmp_path, name):
    """Real files and the real CLI: a suite TOML planted outside the suites folder is neither
    read by sweep nor used by leaderboard --write, which writes nothing anywhere."""
    suites = tmp_path / "a" / "b" / "suites"
    suites.mkdir(parents=True)
    (tmp_path / "a" / "x.toml").write_text('tasks = ["modadd"]\nmethods = ["baseline"]\n')
    (tmp_path / "x.toml").write_text('tasks = ["modadd"]\nmethods = ["baseline"]\n')
    env = {**ONE_THREAD_ENV, "GROKBENCH_SUITES_DIR": str(suites)}
    before = sorted(p for p in tmp_path.rglob("*"))
    for args in (["sweep", "--suite", name, "--dry-run", "--store", str(tmp_path / "r.db")],
                 ["leaderboard", "--suite", name, "--write", "--store", str(tmp_path / "r.db")]):
        out = subprocess.run([sys.executable, "-m", "grokbench", *args], env=env,
                             capture_output=True, text=True, timeout=120, cwd=suites)
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "--suite takes a suite's name" in out.stderr
        assert "--file PATH" in out.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written
