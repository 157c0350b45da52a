"""``grokbench export``: a real tiny store written as CSV and Parquet and read back with the csv
module and pandas, holding the same ids, scores, settings and curves as the store."""
import csv
import json
import math
import sys

import pytest
from click.testing import CliRunner

from grokbench.cli import cli
from grokbench.config import resolve
from grokbench.engine import run_or_load
from grokbench.store import Store


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """Two short modular-addition runs: baseline (never generalizes in 12 steps: ∞) and wd."""
    from grokbench.registry import get_registry
    path = tmp_path_factory.mktemp("export") / "runs.db"
    db = Store(path)
    results = [run_or_load(resolve(get_registry(), "modadd", method,
                                   {"p": 7, "steps": 12, "eval_every": 5, "threads": 1, "seed": seed}),
                           db, progress=False)[0]
               for method, seed in (("baseline", 0), ("wd", 1))]
    db.close()
    return path, results


def export(*args):
    out = CliRunner().invoke(cli, ["export", *map(str, args)])
    assert out.exit_code == 0, out.output
    return out


def numeric_points(result):
    return [(r["step"], k, v) for r in result["curve"] for k, v in r.items()
            if k != "step" and isinstance(v, (int, float))]


def test_csv_round_trip_with_the_csv_module(tiny_store, tmp_path):
    path, results = tiny_store
    out = export("--store", path, "--curves", "-o", tmp_path / "t.csv")
    assert "2 runs" in out.stdout and "t-curves.csv" in out.stdout
    with open(tmp_path / "t.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in results]
    first = rows[0]
    assert list(first)[:6] == ["run_id", "task", "method", "seed", "status", "created_at"]
    assert (first["task"], first["method"], first["seed"]) == ("modadd", "baseline", "0")
    assert first["steps_to_generalize"] == "inf"  # not reached: ∞, never the budget
    assert float(first["final_test_acc"]) == results[0]["scores"]["final_test_acc"]
    assert first["config.p"] == "7" and first["config.betas"] == json.dumps(results[0]["config"]["betas"])
    assert rows[1]["config.weight_decay"] == str(results[1]["config"]["weight_decay"])
    assert first["versions.torch"] == results[0]["versions"]["torch"]
    with open(tmp_path / "t-curves.csv", newline="") as fh:
        points = list(csv.DictReader(fh))
    assert list(points[0]) == ["run_id", "step", "metric", "value"]
    mine = [(int(p["step"]), p["metric"], float(p["value"])) for p in points
            if p["run_id"] == results[0]["run_id"]]
    assert sorted(mine) == [(s, k, pytest.approx(float(v), rel=1e-15))
                            for s, k, v in sorted(numeric_points(results[0]))]


def test_csv_and_parquet_read_back_with_pandas(tiny_store, tmp_path):
    pd = pytest.importorskip("pandas", reason="pandas not installed (pip install 'grokbench[notebook]')")
    path, results = tiny_store
    export("--store", path, "--curves", "-o", tmp_path / "t.csv")
    runs = pd.read_csv(tmp_path / "t.csv")
    assert math.isinf(runs.loc[0, "steps_to_generalize"]) and runs.loc[0, "config.p"] == 7
    assert runs.loc[1, "seed"] == 1 and runs.loc[1, "method"] == "wd"
    # round_trip: pandas' default float parser may be off in the last bit; the file is exact.
    curves = pd.read_csv(tmp_path / "t-curves.csv", float_precision="round_trip")
    assert len(curves) == sum(len(numeric_points(r)) for r in results)
    wide = curves.pivot_table(index=["run_id", "step"], columns="metric", values="value")
    last = results[1]["curve"][-1]
    assert wide.loc[(results[1]["run_id"], last["step"]), "test_acc"] == last["test_acc"]

    pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install 'grokbench[parquet]')")
    export("--store", path, "--curves", "--format", "parquet", "-o", tmp_path / "t.parquet")
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert list(table["run_id"]) == list(runs["run_id"])
    assert table["steps_to_generalize"].dtype == "float64" and math.isinf(table.loc[0, "steps_to_generalize"])
    assert table["seed"].dtype == "int64" and table["config.p"].tolist() == [7, 7]
    assert table["final_test_acc"].tolist() == [r["scores"]["final_test_acc"] for r in results]
    assert pd.read_parquet(tmp_path / "t-curves.parquet").equals(curves)


def test_filters_and_default_file_name(tiny_store, tmp_path, monkeypatch):
    path, results = tiny_store
    monkeypatch.chdir(tmp_path)
    out = export("--store", path, "--method", "wd")
    assert "1 runs" in out.stdout
    with open(tmp_path / "runs.csv", newline="") as fh:
        assert [r["run_id"] for r in csv.DictReader(fh)] == [results[1]["run_id"]]


def test_user_errors_are_one_line(tiny_store, tmp_path, monkeypatch, capsys):
    from grokbench.cli import main
    path, _ = tiny_store
    monkeypatch.setattr(sys, "argv", ["grokbench", "export", "--store", str(tmp_path / "none.db")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and not (tmp_path / "none.db").exists()
    assert capsys.readouterr().err.strip().endswith("give one with --store FILE")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an environment without pyarrow
    monkeypatch.setattr(sys, "argv", ["grokbench", "export", "--store", str(path), "--format", "parquet",
                                      "-o", str(tmp_path / "x.parquet")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and not (tmp_path / "x.parquet").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install pyarrow" in err and "--format csv" in err
