"""The results store: one SQLite file (WAL) for single runs and sweeps alike.

Several worker processes may write at once: WAL lets readers go on while one writes, and the
busy timeout makes a writer wait its turn instead of failing. A run is written once, complete,
in one transaction, so a killed process never leaves half a run behind.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from .errors import UserError
from .scoring import from_jsonable, to_jsonable

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    task       TEXT NOT NULL,
    method     TEXT NOT NULL,
    seed       INTEGER NOT NULL,
    status     TEXT NOT NULL,
    config     TEXT NOT NULL,
    scores     TEXT NOT NULL,
    curve      TEXT NOT NULL,
    versions   TEXT NOT NULL,
    wall_time  REAL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_task_method ON runs(task, method);
"""


CORRUPT_FIX = ("restore it from a backup, or choose another file with --store PATH "
               "(`sqlite3 FILE .recover` may save the runs it still holds)")


def default_store_path() -> Path:
    env = os.environ.get("GROKBENCH_STORE")
    if env:
        return Path(env)
    from platformdirs import user_data_dir
    return Path(user_data_dir("grokbench")) / "runs.db"


def enable_wal(db, patience: float = 60.0):
    """Switch the file to WAL. When several processes open a fresh file at the same moment,
    SQLite may answer "database is locked" at once instead of waiting out the busy timeout
    (seen in 2-3 of 160 simultaneous opens of fresh files), so wait and retry here."""
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Store:
    # the order of the columns in SCHEMA, which every SELECT * row follows
    COLUMNS = ("run_id", "task", "method", "seed", "status", "config", "scores", "curve",
               "versions", "wall_time", "created_at")

    def __init__(self, path=None):
        self.path = Path(path) if path else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60)
            enable_wal(self.db)
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot use {self.path} as a results store ({exc}); "
                            "choose another file with --store PATH") from None
        except OSError as exc:
            raise UserError(f"cannot create the results store at {self.path} ({exc.strerror}); "
                            "choose a writable place with --store PATH") from None

    def check_writable(self):
        """Fail now, not after training, when a run could not be saved here (a read-only file,
        folder or file system): write in a transaction and roll it back."""
        try:
            # A valid header over corrupt pages opens fine and may answer the queries made so
            # far: find it now, not when the first result is saved after training.
            problems = self.db.execute("PRAGMA quick_check(3)").fetchall()
            if problems != [("ok",)]:
                raise UserError(f"the results store {self.path} is corrupt ("
                                + "; ".join(str(p[0]) for p in problems) + "); " + CORRUPT_FIX)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(f"PRAGMA user_version = {int(version)}")
            finally:
                self.db.rollback()
        except sqlite3.DatabaseError as exc:
            if not isinstance(exc, sqlite3.OperationalError):  # malformed, not a database
                raise UserError(f"the results store {self.path} is corrupt ({exc}); "
                                + CORRUPT_FIX) from None
            raise UserError(f"cannot write to the results store {self.path} ({exc}); make it "
                            "writable, or choose another file with --store PATH") from None

    def save(self, result: dict):
        cfg = result["config"]
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (result["run_id"], cfg["task"], cfg["method"], cfg["seed"], result["status"],
                 _json(cfg), _json(result["scores"]), _json(result["curve"]),
                 _json(result["versions"]), result.get("wall_time"), time.time()))

    def has(self, run_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is not None

    def done_ids(self) -> set:
        return {r[0] for r in self.db.execute("SELECT run_id FROM runs")}

    def summaries(self, run_ids) -> list[dict]:
        """Id, task, method, seed, status and scores of these runs, without curves (a sweep's
        summary table reads thousands of runs; parsing their curves would dominate)."""
        run_ids, out = list(run_ids), []
        for lo in range(0, len(run_ids), 500):  # stay under SQLite's limit on bound variables
            chunk = run_ids[lo:lo + 500]
            rows = self.db.execute(
                "SELECT run_id, task, method, seed, status, scores FROM runs WHERE run_id IN "
                f"({','.join('?' * len(chunk))})", chunk)
            out += [{"run_id": r[0], "task": r[1], "method": r[2], "seed": r[3], "status": r[4],
                     "scores": from_jsonable(json.loads(r[5]))} for r in rows]
        return out

    def get(self, run_id: str) -> dict:
        # The exact id, else ids that start with the text as written: not LIKE, where % and _
        # in the text would be wildcards (``show 2%`` matched any id with a 2 in it).
        rows = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchall() or \
            self.db.execute("SELECT * FROM runs WHERE substr(run_id, 1, ?) = ?",
                            (len(run_id), run_id)).fetchall()
        if not rows:
            raise UserError(f"no run {run_id!r} in {self.path}; `grokbench show` lists the runs")
        if len(rows) > 1:
            raise UserError(f"{run_id!r} matches {len(rows)} runs; give more of the id")
        return self._row(rows[0])

    def results(self, task=None, method=None) -> list[dict]:
        query = "SELECT * FROM runs WHERE 1=1"
        args: list[str] = []
        if task:
            query, args = query + " AND task=?", args + [task]
        if method:
            query, args = query + " AND method=?", args + [method]
        return [self._row(r) for r in self.db.execute(query + " ORDER BY created_at", args)]

    def records(self, curves: bool = False, **filters) -> list[dict]:
        """Stored runs, oldest first, whose ``task``, ``method``, ``seed``, ``status`` or
        ``run_id`` equal the given values (a list or tuple: any of them); ``curves=False``
        leaves the curves unread (``"curve": None``), which is most of the parsing."""
        unknown = sorted(set(filters) - {"task", "method", "seed", "status", "run_id"})
        if unknown:
            raise UserError(f"runs cannot be filtered on {', '.join(unknown)} in the store; "
                            "filter on task, method, seed, status or run_id")
        columns = self.COLUMNS[:7] + self.COLUMNS[8:]  # all but the curve, read last if asked
        query = f"SELECT {', '.join(columns)}, {'curve' if curves else 'NULL'} FROM runs WHERE 1=1"
        args: list = []
        for key, value in filters.items():
            if value is None:
                continue
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            query += f" AND {key} IN ({','.join('?' * len(values))})"
            args += values
        out = []
        for row in self.db.execute(query + " ORDER BY created_at, run_id", args):
            rec = dict(zip(columns + ("curve",), row))
            for key in ("config", "scores", "versions") + (("curve",) if curves else ()):
                rec[key] = from_jsonable(json.loads(rec[key]))
            out.append(rec)
        return out

    def _row(self, row) -> dict:
        rec = dict(zip(self.COLUMNS, row))
        for key in ("config", "scores", "curve", "versions"):
            rec[key] = from_jsonable(json.loads(rec[key]))
        return rec

    def close(self):
        self.db.close()


def _json(obj) -> str:
    """Strict JSON, so that other tools (SQLite's json functions among them) can read the store:
    ∞ is the string "inf" and NaN is null, as in --json output; reading turns "inf" back into ∞
    (stores written before this hold bare Infinity/NaN, which json.loads still reads)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, allow_nan=False)
