"""The first run: `grokbench run` stops at the decision point by default, and an early-stopped
request is served by the same run trained to its full budget (never the reverse)."""
import json
import sqlite3
import subprocess
import sys

from grokbench.config import resolve, run_id
from grokbench.engine import run, run_or_load
from grokbench.store import Store

SMALL = {"p": 59, "steps": 400, "eval_every": 20, "threads": 1}


def test_an_early_stopped_run_is_the_full_runs_curve_up_to_its_decision_point(registry, tmp_path):
    """Trained early-stopped, and read off the stored full-budget run: the same curve bit for bit,
    the same scores, status stopped_early; the derived result is then stored under its own id."""
    full_cfg = resolve(registry, "modadd", "perpgrad", {**SMALL, "early_stop": False})
    early_cfg = resolve(registry, "modadd", "perpgrad", {**SMALL, "early_stop": True})
    db = Store(tmp_path / "runs.db")
    try:
        full, _ = run_or_load(full_cfg, db, progress=False)
        derived, read = run_or_load(early_cfg, db, progress=False)
        assert read and derived["derived_from"] == full["run_id"]
        assert db.has(run_id(early_cfg))
    finally:
        db.close()
    trained = run(early_cfg, progress=False)
    assert trained["status"] == derived["status"] == "stopped_early"
    assert len(trained["curve"]) < len(full["curve"])
    assert json.dumps(trained["curve"], sort_keys=True) == json.dumps(derived["curve"], sort_keys=True)
    keys = ("steps_to_fit", "steps_to_generalize", "grokking_delay", "collapse_onset",
            "final_test_acc", "weight_norm", "decided_at")
    assert {k: trained["scores"][k] for k in keys} == {k: derived["scores"][k] for k in keys}


def test_a_full_budget_request_is_never_served_by_an_early_stopped_run(registry, tmp_path):
    early_cfg = resolve(registry, "modadd", "perpgrad", {**SMALL, "early_stop": True})
    full_cfg = resolve(registry, "modadd", "perpgrad", {**SMALL, "early_stop": False})
    db = Store(tmp_path / "runs.db")
    try:
        run_or_load(early_cfg, db, progress=False)
        full, read = run_or_load(full_cfg, db, progress=False)
    finally:
        db.close()
    assert not read and full["curve"][-1]["step"] == 400


def test_run_stops_at_the_decision_point_on_one_thread_by_default(tmp_path):
    """The CLI's defaults, as --show-config prints them; --set early_stop=false trains the budget."""
    def config(*extra):
        out = subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "modadd",
                              "--show-config", *extra], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    default = config()
    assert default["early_stop"] is True and default["threads"] == 1
    assert config("--set", "early_stop=false", "--threads", "2")["early_stop"] is False


def test_a_stored_run_from_before_cpu_time_was_kept_says_so(registry, tmp_path):
    """`grokbench run` shows a stored result when there is one. A result stored by a grokbench
    from before CPU time was recorded has none: the table says it was not recorded (it read "n/a",
    which looks like a failure of this run); a run trained now shows its CPU seconds."""
    cfg = resolve(registry, "modadd", "perpgrad", SMALL)
    db_path = tmp_path / "runs.db"
    db = Store(db_path)
    try:
        run_or_load(cfg, db, progress=False)
    finally:
        db.close()
    cmd = [sys.executable, "-m", "grokbench", "run", "--task", "modadd", "--method", "perpgrad",
           "--set", "p=59", "--steps", "400", "--eval-every", "20", "--store", str(db_path)]
    fresh = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu_row = next(line for line in fresh.splitlines() if "CPU time" in line)
    assert float(cpu_row.split("│")[2].split()[0]) > 0
    with sqlite3.connect(db_path) as con:  # as an older grokbench stored it: no cpu_time
        con.execute("UPDATE runs SET scores = json_remove(scores, '$.cpu_time')")
    older = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "stored result of an identical run" in older.stderr  # read, not trained again
    assert "not recorded (begun by an older grokbench)" in older.stdout
