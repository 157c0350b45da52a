"""Issue 29's small fixes: `show` lists the settings that tell runs apart; a logger asked for on
a stored run says it logged nothing; dry-run projections take the lower quartile of the
recorded timings; the dry run warns about data that is not on the machine."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest

import grokbench

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = {"p": 23, "steps": 20, "threads": 1, "progress": False}


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grokbench", *args], capture_output=True,
                          text=True, env=env or ENV)


def test_show_lists_the_settings_that_tell_runs_apart(tmp_path):
    store = tmp_path / "runs.db"
    plain = grokbench.run("modadd", "wd", store=store, early_stop=False, **TINY)
    slower = grokbench.run("modadd", "wd", store=store, lr=0.003, early_stop=False, **TINY)
    stopping = grokbench.run("modadd", "wd", store=store, early_stop=True, **TINY)
    other = grokbench.run("parity", "wd", store=store, steps=10, threads=1, progress=False)
    # a run stored before warmup_steps existed has no such key: it counts as the default (0)
    with sqlite3.connect(store) as con:
        config = json.loads(con.execute("SELECT config FROM runs WHERE run_id = ?",
                                        (plain.run_id,)).fetchone()[0])
        del config["warmup_steps"]
        con.execute("UPDATE runs SET config = ? WHERE run_id = ?", (json.dumps(config), plain.run_id))
    out = cli("show", "--store", str(store))
    assert out.returncode == 0, out.stderr
    header, _, *lines = out.stdout.splitlines()
    at = header.index("settings")  # the last column
    settings = {line.split()[0]: line[at:].strip() for line in lines}
    assert settings[plain.run_id] == "early_stop=false lr=0.01"
    assert settings[slower.run_id] == "early_stop=false lr=0.003"
    assert settings[stopping.run_id] == "early_stop=true lr=0.01"
    assert settings[other.run_id] == ""  # the only parity run: nothing to tell apart


def test_a_logger_on_a_stored_run_says_it_logged_nothing(tmp_path, capfd):
    store = tmp_path / "runs.db"
    args = ["run", "--task", "modadd", "--method", "wd", "--set", "p=23", "--steps", "5",
            "--threads", "1", "-q", "--store", str(store)]
    assert cli(*args).returncode == 0
    again = cli(*args, "--set", "loggers=tensorboard", "--set", f"log_dir={tmp_path / 'tb'}")
    assert again.returncode == 0
    notes = [line for line in again.stderr.splitlines() if "logged nothing" in line]
    assert len(notes) == 1 and notes[0].startswith("loggers tensorboard logged nothing: run ")
    assert "--force trains it again with them" in notes[0]
    assert not (tmp_path / "tb").exists()
    # the Python API says the same (the same code path; `run` stops early by default)
    result = grokbench.run("modadd", "wd", store=store, loggers="tensorboard", p=23, steps=5,
                           early_stop=True, threads=1, progress=False,
                           log_dir=str(tmp_path / "tb"))  # were it trained, it would log there
    assert result.from_store and "logged nothing" in capfd.readouterr().err


def test_projection_takes_the_lower_quartile_of_the_timings(registry):
    """Load only slows a run down: a run recorded beside other jobs (25× slower here) must not
    set the projection. 2 timings: the lower one; 10 timings: the 3rd lowest."""
    from grokbench.config import resolve
    from grokbench.sweep import projection, speed_kind, typical_time
    config = resolve(registry, "modadd", "wd", {"p": 23, "steps": 1000, "eval_every": 100})
    kind = speed_kind(config)
    rows, _ = projection([config], [(kind, 0.25, 2.5, "store"), (kind, 0.01, 0.1, "store")],
                         registry)
    assert rows[0][2:4] == ("0.0100", "0.100")
    assert typical_time([9, 1, 8, 2, 7, 3, 6, 4, 5, 10]) == 3
    assert typical_time([5]) == 5 and typical_time([4, 1, 3]) == 1


@pytest.mark.parametrize("task, warned", [("imdb", True), ("modadd", False)])
def test_the_dry_run_warns_about_data_that_is_not_here(tmp_path, task, warned):
    env = {k: v for k, v in ENV.items() if k != "GROKBENCH_IMDB_DIR"}
    env["GROKBENCH_DATA_DIR"] = str(tmp_path / "empty")
    out = cli("sweep", "--task", task, "--method", "wd", "--seeds", "0,1", "--set", "steps=10",
              "--dry-run", "--store", str(tmp_path / "r.db"), env=env)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    if warned:
        assert lines == [line for line in lines if "2 new imdb runs cannot train here: no IMDb "
                                                   "data found" in line] and len(lines) == 1
        assert "grokbench data fetch imdb" in lines[0]
    else:
        assert lines == []


def test_a_sweep_says_what_its_stored_runs_do_not_give(tmp_path):
    """Stored runs are skipped: loggers and checkpoints asked for now get nothing from them."""
    args = ["sweep", "--task", "modadd", "--method", "wd", "--seeds", "0,1", "--set", "p=23",
            "--set", "steps=5", "--executor", "inprocess", "-q", "--store", str(tmp_path / "r.db")]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert "stored runs" not in first.stderr
    again = cli(*args, "--set", "loggers=tensorboard", "--set", "checkpoints=last")
    assert again.returncode == 0, again.stderr
    assert ("2 of the stored runs were read, not trained, so the loggers logged nothing for "
            "them") in again.stderr
    assert "2 of the stored runs lack checkpoints asked for" in again.stderr
