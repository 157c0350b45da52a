"""The store as flat tables, for pandas, R, DuckDB and spreadsheets: one row per run, and the
curves in long form (one row per run, evaluation and metric).

``grokbench export`` writes them as CSV or Parquet and ``grokbench.runs()`` returns the runs
table as a pandas DataFrame: one table, built here. CSV is written with the standard library
and Parquet with pyarrow, so exporting needs neither pandas nor click.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

from .data import output_file
from .errors import UserError

#: The runs table's first columns; the scores follow under their own names (``steps_to_fit``,
#: ``steps_to_generalize``, ...), then ``config.<setting>`` and ``versions.<name>``.
ID_COLUMNS = ("run_id", "task", "method", "seed", "status", "created_at")
#: The long curves table: a metric's value at one evaluation of one run (join on ``run_id``).
CURVE_COLUMNS = ("run_id", "step", "metric", "value")

FORMATS = ("csv", "parquet")


def run_rows(records: list[dict]) -> list[dict]:
    """One flat dict per stored run (records as :meth:`Store.records` gives them). Nested
    settings become dotted columns (``config.plugin_versions.grokbench``); lists are JSON text
    (``config.betas`` is ``[0.9, 0.999]``), so every cell is a number, a string or empty. A score
    not reached is ∞ (``inf`` in CSV), never the budget."""
    rows = []
    for rec in records:
        row = {key: rec[key] for key in ID_COLUMNS}
        row.update(rec["scores"])
        row.update(_flatten("config", rec["config"]))
        row.update(_flatten("versions", rec["versions"]))
        rows.append(row)
    return _one_type_per_column(rows)


def curve_rows(records: list[dict]) -> list[dict]:
    """The curves of these runs (read with ``curves=True``), long: one row per run, evaluation
    and metric, so runs with different metrics (per-tensor NLM cosines differ between models)
    fit one table. Pivot on ``metric`` for one column per metric."""
    rows = []
    for rec in records:
        for point in rec["curve"]:
            for metric, value in point.items():
                if metric == "step" or not isinstance(value, (int, float)) and value is not None:
                    continue
                rows.append({"run_id": rec["run_id"], "step": point["step"], "metric": metric,
                             "value": None if value is None else float(value)})
    return rows


def columns(rows: list[dict], first=()) -> list[str]:
    """Every key of these rows, ``first`` in its order, the rest in the order first seen."""
    seen = dict.fromkeys(first)
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def write(rows: list[dict], path, fmt: str, first=()) -> Path:
    """Write rows as CSV or Parquet; the file appears whole or not at all (a temporary file,
    renamed), so an interrupted export never leaves a truncated table behind. The rename
    replaces only a regular file: a symlink is written through, a FIFO or device refused
    (:func:`grokbench.data.output_file`)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    shown, path = path, output_file(path, "choose another file with -o PATH")
    cols = columns(rows, first)
    if fmt == "parquet":
        try:
            import pyarrow as pa  # optional extra [parquet]
            import pyarrow.parquet as pq
        except ImportError:
            raise UserError("Parquet export needs pyarrow: pip install pyarrow (or pip install "
                            "'grokbench[parquet]'), or use --format csv") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, cols, restval="")
                writer.writeheader()
                writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
        else:
            table = pa.Table.from_pylist([{c: row.get(c) for c in cols} for row in rows],
                                         schema=_arrow_schema(pa, rows, cols))
            pq.write_table(table, tmp)
        if path.exists():  # an overwritten export keeps its permissions
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc}); choose another place "
                        "with -o PATH") from None
    finally:
        tmp.unlink(missing_ok=True)
    return Path(shown)


def _flatten(prefix: str, value) -> dict:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(_flatten(f"{prefix}.{key}", inner))
        return out
    if isinstance(value, (list, tuple)):
        return {prefix: json.dumps(value)}
    return {prefix: value}


def _one_type_per_column(rows: list[dict]) -> list[dict]:
    """A column whose values mix kinds (a setting that is a number for one task's runs and a
    word for another's) becomes text throughout, so typed readers (Parquet, DuckDB) take it."""
    kinds: dict[str, set] = {}
    for row in rows:
        for key, value in row.items():
            if value is not None:
                kinds.setdefault(key, set()).add(
                    "number" if isinstance(value, (int, float)) and not isinstance(value, bool)
                    else type(value).__name__)
    mixed = {key for key, found in kinds.items() if len(found) > 1}
    for row in rows:
        for key in mixed & row.keys():
            if row[key] is not None and not isinstance(row[key], str):
                row[key] = json.dumps(row[key])
    return rows


def _csv_cell(value):
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"  # what pandas and DuckDB read as ∞
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def _arrow_schema(pa, rows, cols):
    """Column types from every row, not the first: an integer column with a float further down
    (``collapse_onset``: a step, or ∞) is float64, and so is a column with no values at all
    (``decided_at`` of runs that never decided)."""
    fields = []
    for col in cols:
        values = [row.get(col) for row in rows if row.get(col) is not None]
        if not values:
            kind = pa.float64()
        elif all(isinstance(v, bool) for v in values):
            kind = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            kind = pa.int64()
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(col, kind))
    return pa.schema(fields)
