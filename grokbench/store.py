"""The results store: one SQLite file (WAL) for single runs and sweeps alike.

Several worker processes may write at once: WAL lets readers go on while one writes, and the
busy timeout makes a writer wait its turn instead of failing. A run is written once, complete,
in one transaction, so a killed process never leaves half a run behind.
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import quote

from platformdirs import user_data_dir

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

    def __init__(self, path=None, readonly: bool = False, missing_ok: bool = False):
        """Open (creating if need be) the store at ``path`` for reading and writing; with
        ``readonly`` only read it: SQLite's mode=ro, no WAL switch, no CREATE, so a store in a
        read-only folder or file can be read and a mistyped path is not created (an error,
        or with ``missing_ok`` an empty store in memory)."""
        self.path = Path(path) if path else default_store_path()
        if readonly:
            self.db = self._open_readonly(missing_ok)
            return
        if self.path.exists() and not self.path.is_file():
            # SQLite would try /dev/null (and leave /dev/null-journal behind) or a FIFO
            raise UserError(f"{self.path} is not a regular file; choose a results store with "
                            "--store FILE")
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

    def _open_readonly(self, missing_ok: bool):
        if not self.path.exists():
            if missing_ok:
                db = sqlite3.connect(":memory:")
                db.executescript(SCHEMA)
                return db
            raise UserError(f"there is no results store at {self.path}; give one with --store "
                            "FILE (grokbench run and sweep create it)")
        if not self.path.is_file():
            raise UserError(f"{self.path} is not a file; give a results store with --store FILE")
        uri = "file:" + quote(str(self.path.resolve()))
        try:
            try:
                if os.access(self.path, os.W_OK) and os.access(self.path.resolve().parent,
                                                               os.W_OK | os.X_OK):
                    # Where it could write, a mode=ro connection to a WAL store would leave
                    # -wal and -shm files behind (it cannot remove them): read through one that
                    # cannot change anything (query_only) and tidies up on closing, as before.
                    db = sqlite3.connect(uri + "?mode=rw", uri=True, timeout=60)
                    db.execute("PRAGMA query_only = 1")
                else:
                    db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=60)
                tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            except sqlite3.OperationalError:
                # A WAL store whose -shm file is missing and cannot be made (a read-only
                # folder): nobody can be writing to it, so read it as it is.
                db = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=60)
                tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot read {self.path} as a results store ({exc}); "
                            + CORRUPT_FIX) from None
        if ("runs",) not in tables:
            db.close()
            raise UserError(f"{self.path} is not a grokbench results store (it has no runs "
                            "table); give one with --store FILE")
        return db

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
            for r in rows:
                rec = self._parsed({"run_id": r[0], "task": r[1], "method": r[2], "seed": r[3],
                                    "status": r[4], "scores": r[5]}, ("scores",))
                if rec is not None:
                    out.append(rec)
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
        rec = self._row(rows[0], warn=False)
        if rec is None:
            raise UserError(f"run {rows[0][0]} in {self.path} is malformed (its config, scores, "
                            "curve or versions are not the JSON a run stores); run it again "
                            "with --force, or " + CORRUPT_FIX)
        return rec

    def results(self, task=None, method=None) -> list[dict]:
        query = "SELECT * FROM runs WHERE 1=1"
        args: list[str] = []
        if task:
            query, args = query + " AND task=?", args + [task]
        if method:
            query, args = query + " AND method=?", args + [method]
        rows = (self._row(r) for r in self.db.execute(query + " ORDER BY created_at", args))
        return [r for r in rows if r is not None]

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
            rec = self._parsed(dict(zip(columns + ("curve",), row)),
                               ("config", "scores", "versions") + (("curve",) if curves else ()))
            if rec is not None:
                out.append(rec)
        return out

    def _row(self, row, warn: bool = True) -> dict | None:
        return self._parsed(dict(zip(self.COLUMNS, row)),
                            ("config", "scores", "curve", "versions"), warn)

    # what each JSON column holds in a run written by save()
    _KINDS = {"config": dict, "scores": dict, "curve": list, "versions": dict}

    def _parsed(self, rec: dict, keys, warn: bool = True) -> dict | None:
        """The row with its JSON columns read, or None (with a warning naming the run) when one
        is not what a run stores: one malformed row, written by another tool or damaged, must
        not make the whole store unreadable."""
        try:
            for key in keys:
                rec[key] = from_jsonable(json.loads(rec[key]))
                if not isinstance(rec[key], self._KINDS[key]) or (
                        key == "curve" and not all(isinstance(p, dict) for p in rec[key])):
                    raise ValueError(f"{key} is not a JSON {self._KINDS[key].__name__}")
            if "scores" in keys and not all(v is None or isinstance(v, (int, float))
                                            for v in rec["scores"].values()):
                raise ValueError("a score is not a number")
            if not all(isinstance(rec.get(k, ""), str) for k in ("run_id", "task", "method")):
                raise ValueError("its id, task or method is not text")
        except (TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            if warn:
                print(f"warning: skipped run {rec.get('run_id')!r} of {self.path}: it is "
                      f"malformed ({exc})", file=sys.stderr)
            return None
        return rec

    def close(self):
        self.db.close()


def _json(obj) -> str:
    """Strict JSON, so that other tools (SQLite's json functions among them) can read the store:
    ∞ is the string "inf" and NaN is null, as in --json output; reading turns "inf" back into ∞
    (stores written before this hold bare Infinity/NaN, which json.loads still reads)."""
    return json.dumps(to_jsonable(obj), sort_keys=True, allow_nan=False)
