"""Notebook metrics (``grokbench.run(..., metrics={"name": fn})``): computed at each evaluation
from the EvalContext a metric plugin gets, returned in the curve, never stored."""
import math
import sqlite3

import pytest
import torch

import grokbench
from grokbench.errors import UserError

pytest.importorskip("pandas", reason="pandas not installed (pip install 'grokbench[notebook]')")

SMALL = {"p": 23, "steps": 40, "eval_every": 20, "threads": 1}


def max_logit(ctx):
    return ctx.train_output.abs().max()  # a one-element tensor


def train_stats(ctx):
    return {"n": len(ctx.train_y), "mean_loss": ctx.train_losses.double().mean().item(),
            "draw": torch.rand(()).item()}  # draws from the global RNG: restored after


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = tmp_path_factory.mktemp("nm") / "runs.db"
    plain = grokbench.run("modadd", "perpgrad", store=store, progress=False, **SMALL)
    adhoc = grokbench.run("modadd", "perpgrad", store=store, progress=False,
                          metrics={"max_logit": max_logit, "stats": train_stats}, **SMALL)
    return store, plain, adhoc


def test_notebook_metrics_are_columns_of_the_curve(runs):
    _, plain, adhoc = runs
    curve = adhoc.curve
    assert {"max_logit", "stats/n", "stats/mean_loss", "stats/draw"} <= set(curve.columns)
    assert list(curve.index) == list(plain.curve.index)
    # the same values a plugin would compute from the same context: stats/mean_loss is the
    # engine's train_loss (both the double mean of the per-sample losses), exactly
    assert curve["stats/mean_loss"].tolist() == curve["train_loss"].tolist()
    from grokbench.registry import get_registry
    n_train = get_registry().get("tasks", "modadd").obj().load(adhoc.config).n_train
    assert set(curve["stats/n"]) == {n_train}
    assert (curve["max_logit"] > 0).all()


def test_they_change_nothing_the_run_computes_and_are_not_stored(runs):
    store, plain, adhoc = runs
    timing = {"wall_time", "cpu_time", "steps_per_s", "train_time", "eval_time"}
    assert adhoc.run_id == plain.run_id
    assert ({k: v for k, v in adhoc.scores.items() if k not in timing}
            == {k: v for k, v in plain.scores.items() if k not in timing})
    # the plain columns are the plain run's, bit for bit (the RNG draw inside a metric is
    # undone, so a dropout model or a plugin drawing numbers would see the same stream)
    assert adhoc.curve[list(plain.curve.columns)].equals(plain.curve)
    assert not adhoc.from_store and not adhoc.stored
    rows = sqlite3.connect(store).execute("SELECT run_id, curve FROM runs").fetchall()
    assert len(rows) == 1 and "max_logit" not in rows[0][1]  # only the plain run
    # asking again trains again: a stored run has no values for the functions
    again = grokbench.run("modadd", "perpgrad", store=store, progress=False,
                          metrics={"max_logit": max_logit}, **SMALL)
    assert not again.from_store and again.curve["max_logit"].equals(adhoc.curve["max_logit"])


def test_on_a_stored_runs_checkpoints(tmp_path):
    """The way to a metric over a stored run: its checkpoints, evaluated with the metric."""
    store = tmp_path / "runs.db"
    stored = grokbench.run("modadd", "perpgrad", store=store, progress=False,
                           checkpoints="20,last", **SMALL)
    adhoc = grokbench.run("modadd", "perpgrad", save=False, progress=False,
                          metrics={"max_logit": max_logit}, **SMALL)
    record = stored.evaluate(20, metrics={"max_logit": max_logit})
    assert record["max_logit"] == adhoc.curve.loc[20, "max_logit"]
    with pytest.raises(UserError, match="not stored"):
        adhoc.model(20)
    with pytest.raises(UserError, match="checkpoints belong to stored runs"):
        grokbench.run("modadd", "perpgrad", store=store, progress=False, checkpoints="last",
                      metrics={"max_logit": max_logit}, **SMALL)


@pytest.mark.parametrize("metrics, message", [
    ({"test_acc": max_logit}, "metric 'test_acc' would overwrite 'test_acc'"),
    ({"bad": lambda ctx: "high"}, "metric 'bad' returned str for 'bad' at step 0; return a number"),
    ({"boom": lambda ctx: 1 / 0}, "metric 'boom' failed at step 0: ZeroDivisionError"),
    ({"f": 3}, "metric 'f' must be a function of the evaluation context"),
    ([max_logit], "metrics takes a dict of names to functions"),
])
def test_bad_metrics_are_one_line(metrics, message):
    with pytest.raises(UserError, match=message):
        grokbench.run("modadd", "perpgrad", save=False, progress=False, metrics=metrics,
                      **{**SMALL, "steps": 2})


def test_nan_is_kept():
    result = grokbench.run("modadd", "perpgrad", save=False, progress=False,
                           metrics={"nan": lambda ctx: math.nan}, **{**SMALL, "steps": 2})
    assert result.curve["nan"].isna().all()


def test_a_metric_drawing_random_numbers_leaves_the_global_stream_alone():
    """A dropout model or a plugin drawing numbers after the notebook metrics sees the stream
    it would have seen without them."""
    from grokbench.api import EvalContext
    from grokbench.notebook_metrics import compute
    out = torch.zeros(4, 3)
    ctx = EvalContext(0, {}, None, torch.nn.Linear(2, 3), out, torch.zeros(4), torch.zeros(4),
                      out, torch.zeros(4), [], [])
    hook = compute({"draw": lambda ctx: torch.rand(()).item()})
    before = torch.get_rng_state()
    first = hook(ctx, {})["draw"]
    assert torch.equal(torch.get_rng_state(), before)
    assert hook(ctx, {})["draw"] == first == torch.rand(()).item()  # the stream did not move
