"""The Python API (``grokbench.run``, ``grokbench.runs``) and the example notebook.

The API shares the command line's engine, store and run ids: a run stored by either is read by
the other, never trained twice. The notebook ``examples/notebook.ipynb`` is executed in a real
Jupyter kernel (skipped without nbclient/ipykernel) against a store that already holds its runs,
so it trains nothing; the plain tests below run its API calls in this process."""
import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import grokbench
from grokbench.api import CORE_METRICS
from grokbench.cli import cli
from grokbench.errors import UserError

pd = pytest.importorskip("pandas", reason="pandas not installed (pip install 'grokbench[notebook]')")

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"
# The notebook's runs: sparse parity under the norm constraint and under weight decay alone
NOTEBOOK_RUNS = [("parity", "norm"), ("parity", "wd")]


@pytest.fixture(scope="module")
def parity_store(tmp_path_factory):
    """A store holding the notebook's two runs, trained here through the API."""
    path = tmp_path_factory.mktemp("nb") / "runs.db"
    # with the notebook's checkpoints (no part of the run id: the same runs, weights kept)
    results = [grokbench.run(task, method, steps=300, store=path, progress=False, threads=1,
                             checkpoints="log:5,last")
               for task, method in NOTEBOOK_RUNS]
    return path, results


def test_api_run_gives_scores_curve_config_and_plot(parity_store, tmp_path):
    _, (norm, wd) = parity_store
    assert not norm.from_store and norm.config["task"] == "parity" and norm.config["steps"] == 300
    # Omnigrok's constraint solves parity within the 300 steps (at 250 here; CPUs that round
    # differently may move it an evaluation), weight decay alone does not
    gen = norm.scores["steps_to_generalize"]
    assert norm.scores["steps_to_fit"] <= gen <= 300 and math.isinf(wd.scores["steps_to_generalize"])
    curve = norm.curve
    assert list(curve.index) == [r["step"] for r in norm.records] and curve.index.name == "step"
    assert set(CORE_METRICS) <= set(curve.columns) and "sc_fraction" in curve.columns
    assert curve.loc[gen, "test_acc"] == next(r["test_acc"] for r in norm.records if r["step"] == gen)
    assert curve.loc[gen, "test_acc"] >= 0.95
    assert curve["test_acc"].iloc[-1] == norm.scores["final_test_acc"]
    fig = norm.plot(tmp_path / "fig.png")
    assert len(fig.axes) == 3 and (tmp_path / "fig.png").stat().st_size > 10_000
    assert norm.run_id in repr(norm) and f"{int(gen)} steps" in repr(norm)


def test_api_and_cli_share_run_ids_and_the_store(parity_store, tmp_path, monkeypatch):
    path, (norm, _) = parity_store
    again = grokbench.run("parity", "norm", steps=300, store=path)  # no training: read back
    assert again.from_store and again.run_id == norm.run_id and again.scores == norm.scores
    assert again.curve.equals(norm.curve)
    # the command line finds the API's run under the same id, and trains nothing
    out = CliRunner().invoke(cli, ["run", "--task", "parity", "--method", "norm", "--steps", "300",
                                   "--store", str(path), "--json", "-q"])
    assert out.exit_code == 0, out.output
    assert "stored result of an identical run" in out.stderr
    assert json.loads(out.stdout)["run_id"] == norm.run_id
    # ... and the API finds a run the command line stored
    cli_store = tmp_path / "cli.db"
    out = CliRunner().invoke(cli, ["run", "--task", "modadd", "--set", "p=7", "--steps", "12",
                                   "--store", str(cli_store), "--json", "-q"])
    assert out.exit_code == 0, out.output
    from_cli = grokbench.run("modadd", p=7, steps=12, store=cli_store)
    assert from_cli.from_store and from_cli.run_id == json.loads(out.stdout)["run_id"]
    # save=False neither reads nor writes a store
    monkeypatch.setenv("GROKBENCH_STORE", str(tmp_path / "never.db"))
    fresh = grokbench.run("modadd", p=7, steps=12, save=False, progress=False)
    assert not fresh.from_store and fresh.run_id == from_cli.run_id
    assert not (tmp_path / "never.db").exists()


def test_runs_table_and_its_filters(parity_store, tmp_path):
    path, (norm, wd) = parity_store
    table = grokbench.runs(path)
    assert list(table.columns[:6]) == ["run_id", "task", "method", "seed", "status", "created_at"]
    assert list(table["run_id"]) == [norm.run_id, wd.run_id]  # oldest first
    row = table.set_index("run_id").loc[norm.run_id]
    assert row["steps_to_generalize"] == norm.scores["steps_to_generalize"] and row["config.steps"] == 300
    assert row["config.plugin_versions.grokbench"] == grokbench.__version__
    assert math.isinf(table.set_index("run_id").loc[wd.run_id, "steps_to_generalize"])
    assert list(grokbench.runs(path, method="wd")["run_id"]) == [wd.run_id]
    assert list(grokbench.runs(path, method=["wd", "norm"], seed=0)["run_id"]) == [norm.run_id, wd.run_id]
    assert list(grokbench.runs(path, lr=0.01, steps=300)["run_id"]) == [norm.run_id, wd.run_id]
    assert grokbench.runs(path, steps=3000).empty
    with pytest.raises(UserError, match="no stored run has a setting 'lrr'"):
        grokbench.runs(path, lrr=0.01)
    # no store yet: an empty table, and no file created
    empty = grokbench.runs(tmp_path / "none.db")
    assert empty.empty and "run_id" in empty.columns and not (tmp_path / "none.db").exists()


def test_missing_pandas_names_the_extra(parity_store, monkeypatch):
    path, (norm, _) = parity_store
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UserError, match=r"grokbench\[notebook\]"):
        grokbench.runs(path)
    with pytest.raises(UserError, match=r"grokbench\[notebook\]"):
        _ = grokbench.RunResult(norm.to_dict()).curve


def test_the_api_does_not_shadow_the_cli():
    assert callable(grokbench.run) and "run" in cli.commands and "export" in cli.commands
    assert grokbench.run.__module__ == "grokbench.notebook"


def test_example_notebook_executes(parity_store, monkeypatch):
    """The example notebook, executed cell by cell in a Jupyter kernel, as ``jupyter nbconvert
    --execute`` does. Its runs are in the store already, so it reads them and trains nothing."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (pip install 'grokbench[notebook]')")
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (pip install 'grokbench[notebook]')")
    pytest.importorskip("ipykernel", reason="ipykernel not installed (pip install 'grokbench[notebook]')")
    path, (norm, wd) = parity_store
    monkeypatch.setenv("GROKBENCH_STORE", str(path))  # the kernel inherits this environment
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    results = [next((o for o in cell.outputs if o.output_type == "execute_result"), None)
               for cell in code]
    assert all(r is not None for r in results), "every cell ends in a value"
    assert not any(o.output_type == "error" for cell in code for o in cell.outputs)
    assert norm.run_id in results[0].data["text/plain"]
    assert f"'steps_to_generalize': {norm.scores['steps_to_generalize']}" in results[1].data["text/plain"]
    assert "test_acc" in results[2].data["text/html"]
    assert "image/png" in results[3].data  # the figure shows inline, once
    assert sum("image/png" in o.get("data", {}) for o in code[3].outputs) == 1
    assert results[4].data["text/plain"] == "(True, True)"
    table = results[5].data["text/plain"]
    assert norm.run_id in table and wd.run_id in table
    # a checkpoint reloaded in the kernel: its evaluation is the curve's row, bit for bit
    steps = norm.checkpoints
    assert results[6].data["text/plain"] == f"({steps}, {steps[-2]}, True)"
    assert all(f"{s}: " in results[7].data["text/plain"] for s in steps)  # logit_max per step
