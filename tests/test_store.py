"""The results store on real files: strict JSON that other tools can read back, and a store that
cannot be written refused before any training (a real read-only file, the real CLI)."""
import ctypes
import math
import os
import sqlite3
import subprocess
import sys

import pytest

from grokbench.config import resolve
from grokbench.engine import run
from grokbench.scoring import from_jsonable, to_jsonable
from grokbench.store import Store

JSON_COLUMNS = ("config", "scores", "curve", "versions")


def test_store_writes_strict_json_and_reads_the_same_scores(registry, tmp_path):
    path = tmp_path / "runs.db"
    # Never generalizes in 20 steps (scores hold ∞) / diverges at once (NaN in its curve).
    plain = run(resolve(registry, "modadd", "baseline", {"p": 23, "steps": 20}), progress=False)
    nan = run(resolve(registry, "modadd", "baseline",
                      {"p": 23, "steps": 20, "optimizer": "sgd", "lr": 1e30}), progress=False)
    assert math.isinf(plain["scores"]["steps_to_generalize"]) and nan["status"] == "nonfinite"
    assert any(isinstance(v, float) and math.isnan(v) for r in nan["curve"] for v in r.values())
    store = Store(path)
    store.save(plain)
    store.save(nan)
    store.close()
    with sqlite3.connect(path) as db:  # another tool reading the file
        checks = " AND ".join(f"json_valid({c})" for c in JSON_COLUMNS)
        assert db.execute(f"SELECT count(*) FROM runs WHERE {checks}").fetchone() == (2,)
        assert db.execute("SELECT json_extract(scores, '$.steps_to_generalize') FROM runs "
                          "WHERE run_id = ?", (plain["run_id"],)).fetchone() == ("inf",)
    store = Store(path)
    for result in (plain, nan):
        back = store.get(result["run_id"])
        # exactly what --json says: ∞ stays ∞, NaN reads back as None (scored as NaN)
        for key in JSON_COLUMNS:
            assert back[key] == from_jsonable(to_jsonable(result[key])), key
        assert store.summaries([result["run_id"]])[0]["scores"] == back["scores"]
    assert math.isinf(store.get(plain["run_id"])["scores"]["steps_to_generalize"])


def test_a_store_written_before_still_reads(tmp_path):
    path = tmp_path / "old.db"
    Store(path).close()
    with sqlite3.connect(path) as db:  # bare Infinity/NaN, as older versions wrote
        db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   ("abc", "modadd", "baseline", 0, "finished", '{"task": "modadd"}',
                    '{"steps_to_generalize": Infinity, "nlm_cosine": NaN}', "[]", "{}", 1.0, 0.0))
    scores = Store(path).get("abc")["scores"]
    assert math.isinf(scores["steps_to_generalize"]) and math.isnan(scores["nlm_cosine"])


def _no_permission_override():
    """A root process writes read-only files anyway; drop that capability in the child (Linux)
    so a read-only file is read-only for it too."""
    if os.geteuid() != 0:
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def drop():
        if libc.prctl(24, 1, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    try:  # can this process drop it at all?
        subprocess.run(["true"], preexec_fn=drop, check=True)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("running as root without the right to drop CAP_DAC_OVERRIDE: "
                    "a read-only file is writable here")
    return drop


@pytest.fixture
def read_only_store(tmp_path):
    path = tmp_path / "runs.db"
    Store(path).close()
    os.chmod(path, 0o444)
    yield path
    os.chmod(path, 0o644)


@pytest.mark.parametrize("command", [
    ["run", "--task", "modadd", "--quiet"],
    ["sweep", "--task", "modadd", "--seeds", "0-3", "--executor", "inprocess", "--quiet"],
])
def test_read_only_store_is_refused_before_any_training(read_only_store, command):
    preexec = _no_permission_override()
    # a budget that would take many minutes: a refusal after training would time out
    out = subprocess.run([sys.executable, "-m", "grokbench", *command, "--set", "steps=10000000",
                          "--store", str(read_only_store)],
                         capture_output=True, text=True, timeout=120, preexec_fn=preexec,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert "Traceback" not in out.stderr and len(lines) == (1 if command[0] == "run" else 2), lines
    # (a sweep says first how many runs it has to do)
    assert lines[-1].startswith(f"Error: cannot write to the results store {read_only_store}")
    assert "--store PATH" in lines[-1]
    with sqlite3.connect(read_only_store) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_read_only_store_still_shows_its_runs(read_only_store):
    out = subprocess.run([sys.executable, "-m", "grokbench", "show", "--store", str(read_only_store)],
                         capture_output=True, text=True, preexec_fn=_no_permission_override())
    assert out.returncode == 0, out.stderr


def test_show_matches_exact_ids_and_literal_prefixes_not_like_wildcards(tmp_path):
    store = Store(tmp_path / "runs.db")
    for rid in ("2abc000000000000", "a2bc000000000000", "ab_c000000000000", "abxc000000000000"):
        store.save({"run_id": rid, "config": {"task": "t", "method": "m", "seed": 0},
                    "status": "finished", "scores": {}, "curve": [], "versions": {},
                    "wall_time": 0.0})
    assert store.get("2abc000000000000")["run_id"] == "2abc000000000000"
    assert store.get("2a")["run_id"] == "2abc000000000000"
    assert store.get("ab_")["run_id"] == "ab_c000000000000"  # _ is a character, not a wildcard
    assert store.get("abx")["run_id"] == "abxc000000000000"
    for text in ("2%", "%", "_bc", "a_"):  # LIKE would match these
        with pytest.raises(Exception, match="no run"):
            store.get(text)
    with pytest.raises(Exception, match="matches 2 runs"):
        store.get("ab")
    store.close()
    out = subprocess.run([sys.executable, "-m", "grokbench", "show", "2%",
                          "--store", str(tmp_path / "runs.db")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("Error: no run '2%'"), out.stderr


def test_a_store_with_a_valid_header_and_corrupt_pages_is_one_line(tmp_path):
    """A real SQLite file whose first page (the header, the schema) is intact and whose other
    pages are garbage: every command says so in one line, before any training, and leaves the
    file as it was (what it still holds may be recovered)."""
    path = tmp_path / "runs.db"
    store = Store(path)
    for i in range(20):
        store.save({"run_id": f"r{i:015d}", "config": {"task": "t", "method": "m", "seed": i},
                    "status": "finished", "scores": {"x": i}, "curve": [{"step": 0}] * 50,
                    "versions": {}, "wall_time": 0.0})
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = store.db.execute("PRAGMA page_size").fetchone()[0]
    store.close()
    raw = bytearray(path.read_bytes())
    assert len(raw) > 3 * page
    raw[page:] = bytes((i * 7919) % 251 for i in range(len(raw) - page))
    path.write_bytes(raw)
    for args in (["show"], ["run", "--task", "modadd", "--set", "p=23", "--steps", "5"],
                 ["sweep", "--task", "modadd", "--set", "p=23", "--set", "steps=5", "--seeds", "0",
                  "--executor", "inprocess"]):
        out = subprocess.run([sys.executable, "-m", "grokbench", *args, "--store", str(path)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "malformed" in out.stderr and "--store PATH" in out.stderr
        assert path.read_bytes() == raw  # nothing written over what may still be recovered
