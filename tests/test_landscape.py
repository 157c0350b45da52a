"""`grokbench landscape`: Omnigrok's reduced loss landscapes (docs/science.md, "Reduced loss
landscapes"). Fast tests run the real command on tiny grids with a real store; the LU claim on
teacher-student is a slow test (`pytest -m slow`)."""
import json
import math
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from grokbench import landscape as ls
from grokbench import plot
from grokbench.cli import cli
from grokbench.errors import UserError
from grokbench.store import Store


def test_alpha_grid_is_log_spaced_and_lists_parse():
    # 10^linspace(-1, 1, 5): 0.1, 0.316.., 1, 3.16.., 10
    alphas = ls.parse_alphas("0.1:10:5")
    assert len(alphas) == 5 and alphas[0] == 0.1 and alphas[2] == 1.0 and alphas[-1] == 10.0
    assert alphas[1] == pytest.approx(10 ** -0.5, rel=1e-11)
    assert ls.parse_alphas("2,0.5,1,1.0") == [0.5, 1.0, 2.0]
    assert ls.parse_alphas("3:3:1") == [3.0]
    assert ls.parse_sizes("1000,100,100") == [100, 1000]
    for bad in ("0:1:3", "1:10", "a,b", "-1,2", "1:10:0"):
        with pytest.raises(UserError):
            ls.parse_alphas(bad)
    with pytest.raises(UserError):
        ls.parse_sizes("100,x")


def test_points_are_ordinary_norm_runs_of_the_grid(registry):
    configs = ls.build_configs(registry, "teacher-student", [0.5, 2.0], [50, 100], seeds=[0, 1],
                               steps=200)
    assert len(configs) == 8
    assert {c["method"] for c in configs} == {"norm"} and all(c["wrappers"] == ["norm"] for c in configs)
    assert {(c["init_scale"], c["n_train"], c["seed"]) for c in configs} == {
        (a, n, s) for a in (0.5, 2.0) for n in (50, 100) for s in (0, 1)}
    assert all(c["weight_decay"] == 0 and c["steps"] == 200 and c["eval_every"] == 4 for c in configs)
    with pytest.raises(UserError, match="no training-set size"):
        ls.build_configs(registry, "modadd", [1.0], [100])
    with pytest.raises(UserError, match="--alpha"):
        ls.build_configs(registry, "modadd", [1.0], settings={"init_scale": 2.0})


def curve(train_losses, test_loss=1.0, every=10):
    return [{"step": i * every, "train_loss": v, "test_loss": test_loss} for i, v in enumerate(train_losses)]


def test_convergence_rule_on_hand_made_curves():
    steps = 100  # evaluations every 10 steps: the window (last 20 %) holds steps 90 and 100 ...
    flat = curve([1.0] + [0.1] * 10)
    assert ls.convergence(flat, steps)[0] == "converged"
    # never moved: the end is above 95 % of the start
    assert ls.convergence(curve([1.0] * 6 + [0.97] * 5), steps)[0] == "stalled"
    # still descending, halving every 20 steps: the medians of the window's halves (steps 86
    # and 96) are 2^(10/20) = 1.41× apart, more than 1.25×; it ends at 2^-5 = 0.031
    falling = [{"step": s, "train_loss": 2.0 ** (-s / 20), "test_loss": 1.0} for s in range(0, 101, 2)]
    status, reason = ls.convergence(falling, steps)
    assert status == "unsettled" and "fell 1.41×" in reason
    rising = [dict(r, train_loss=0.01 * 2.0 ** (r["step"] / 20)) if r["step"] > 0 else r for r in falling]
    assert ls.convergence(rising, steps)[1].startswith("train loss rose")
    # ... but a train loss two decades under the test loss is on the flat bottom of the "L"
    assert ls.convergence([dict(r, test_loss=10.0) for r in falling], steps)[0] == "converged"
    assert ls.convergence(flat, steps, status="nonfinite")[0] == "nonfinite"


def test_a_point_is_read_as_the_median_of_its_last_tenth_not_one_spiky_evaluation():
    """The α = 2.15 teacher-student run at 1e4 steps (docs/landscapes/README.md) sat near 1e-12 and
    its very last evaluation caught an Adam spike to 1.2e-4: read as the median of the
    evaluations in the last 10 % of the budget (steps 9000–10 000 here: 900 < step ≤ 1000 at
    every 20), the point is 1e-12."""
    losses = [1.0] + [1e-12] * 49 + [1.2e-4]
    evals = [{"step": 20 * i, "train_loss": v, "test_loss": 0.01, "train_acc": 1.0,
              "test_acc": 0.5 if i == 50 else 0.9, "weight_norm": 19.1} for i, v in enumerate(losses)]
    row = {"run_id": "r", "status": "finished", "scores": {"wall_time": 1.0},
           "config": {"task": "teacher-student", "seed": 0, "init_scale": 2.15, "steps": 1000,
                      "n_train": 100},
           "curve": evals}
    point = ls.point_from_run(row, "n_train")
    assert point["evals_read"] == 5 and point["read_from_step"] == 920
    assert point["train_loss"] == 1e-12 and point["train_loss_last"] == 1.2e-4
    assert point["test_err"] == pytest.approx(0.1) and point["train_err"] == 0.0
    assert point["w"] == 19.1 and point["w0"] == pytest.approx(19.1 / 2.15)
    # a NaN inside the window is not smoothed away
    evals[-2]["test_loss"] = float("nan")
    assert math.isnan(ls.point_from_run(row, "n_train")["test_loss"])


def lu_points(n, train, test):
    alphas = [0.1, 0.3, 1.0, 3.0, 10.0]
    return [{"task": "t", "run_id": f"{n}-{a}", "seed": 0, "alpha": a, "n": n, "size_key": "n_train",
             "w": 10 * a, "w0": 10.0, "steps": 100, "train_loss": tr, "test_loss": te,
             "train_err": 0.0, "test_err": 0.0, "status": "converged", "converged": True}
            for a, tr, te in zip(alphas, train, test)]


def test_lu_claim_on_hand_made_landscapes():
    small_l = [1e-2, 1e-4, 1e-6, 1e-9, 1.05e-9]         # L: flat near zero beyond w_c
    small_u = [1e-2, 1e-3, 1e-4, 1e-2, 1.0]             # U, minimum at α = 1
    large_u = [1e-2, 1e-4, 1e-5, 1e-4, 1e-3]            # train and test both U at large N
    points = lu_points(100, small_l, small_u) + lu_points(1000, large_u, large_u)
    claim = ls.lu_claim(points)
    assert claim["holds"], claim["checks"]
    assert (claim["small_n"], claim["large_n"]) == (100, 1000)
    # a train loss that climbs beyond w_c at small N is not an "L"
    bad = lu_points(100, [1e-2, 1e-4, 1e-6, 1e-4, 1e-3], small_u) + lu_points(1000, large_u, large_u)
    claim = ls.lu_claim(bad)
    assert not claim["holds"]
    assert [ok for _, ok, _ in claim["checks"]] == [True, False, True, True]
    # a point that did not converge is not counted: four converged points are too few to judge
    unconverged = [dict(p, converged=False, status="unsettled") if p["alpha"] == 10.0 and p["n"] == 1000
                   else p for p in points]
    checks = ls.lu_claim(unconverged)["checks"]
    assert "only 4 converged" in checks[2][2] and not checks[2][1]


@pytest.fixture(scope="module")
def ts_landscape(tmp_path_factory):
    """The real command on teacher-student: α ∈ {0.5, 2} × N ∈ {50, 100}, 60 steps, a real store."""
    tmp = tmp_path_factory.mktemp("landscape")
    args = ["landscape", "--task", "teacher-student", "--alpha", "0.5,2", "--n", "50,100",
            "--steps", "60", "--executor", "inprocess", "--store", str(tmp / "runs.db"), "-q",
            "--jsonl", str(tmp / "points.jsonl"), "--plot", str(tmp / "lu.png")]
    first = CliRunner().invoke(cli, args)
    second = CliRunner().invoke(cli, args)
    return tmp, first, second


def test_landscape_command_stores_points_as_runs_and_resumes(ts_landscape):
    tmp, first, second = ts_landscape
    assert first.exit_code == 0, first.output
    assert "trained 4 in" in first.output and "0 already stored" in first.output
    assert second.exit_code == 0 and "trained 0 in" in second.output and "4 already stored" in second.output
    points = [json.loads(line) for line in (tmp / "points.jsonl").read_text().splitlines()]
    assert len(points) == 4 and {(p["alpha"], p["n"]) for p in points} == {
        (a, n) for a in (0.5, 2.0) for n in (50, 100)}
    db = Store(tmp / "runs.db")
    for p in points:  # each point is an ordinary run, read as the median of its last tenth
        run = db.get(p["run_id"])
        evals = [r for r in run["curve"] if "train_loss" in r]
        last = evals[-1]
        window = [r for r in evals if r["step"] > 60 - 6]
        assert run["method"] == "norm" and run["config"]["init_scale"] == p["alpha"]
        assert run["config"]["n_train"] == p["n"] and last["step"] == 60
        assert p["evals_read"] == len(window) >= 2 and p["train_loss_last"] == last["train_loss"]
        assert p["train_loss"] == statistics.median(r["train_loss"] for r in window)
        assert p["test_err"] == pytest.approx(1 - statistics.median(r["test_acc"] for r in window))
        # the constraint held the norm where α put it (to float32 rounding)
        assert last["weight_norm"] == pytest.approx(run["curve"][0]["weight_norm"], rel=1e-5)
    # one seed, one initial direction: w = α·w₀ with the same w₀ at every α and N
    w = {(p["alpha"], p["n"]): p["w"] for p in points}
    assert w[2.0, 50] / w[0.5, 50] == pytest.approx(4.0, rel=1e-5)
    assert w[2.0, 50] == pytest.approx(w[2.0, 100], rel=1e-6)
    shown = CliRunner().invoke(cli, ["show", "--store", str(tmp / "runs.db")])
    assert all(p["run_id"][:8] in shown.output for p in points)
    # the table: one row per point, its run id, and w_c per size
    for p in points:
        assert p["run_id"][:8] in first.output
    assert first.output.count("w_c = ") == 2
    assert (tmp / "lu.png").stat().st_size > 10_000 and (tmp / "lu-heatmaps.png").stat().st_size > 10_000


def test_figures_are_rebuilt_from_the_points_file(ts_landscape, tmp_path):
    tmp, _, _ = ts_landscape
    out = CliRunner().invoke(cli, ["landscape", "--from", str(tmp / "points.jsonl"),
                                   "--plot", str(tmp_path / "again.png")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "again.png").exists() and (tmp_path / "again-heatmaps.png").exists()
    rows = ls.aggregate(ls.read_points(tmp / "points.jsonl"))
    fig = plot.draw_lu(rows)
    assert len([ax for ax in fig.axes if ax.get_xscale() == "log" and ax.get_ylabel() != ""]) >= 1
    panels = [ax for ax in fig.axes if ax.get_title().startswith("n_train")]
    assert [ax.get_title() for ax in panels] == ["n_train = 50", "n_train = 100"]
    for ax, n in zip(panels, (50, 100)):
        want = sorted(r["w"] for r in rows if r["n"] == n and r["converged"])
        drawn = [line for line in ax.lines if line.get_marker() in ("o", "s") and line.get_linestyle() == "-"]
        assert all(sorted(line.get_xdata()) == pytest.approx(want) for line in drawn)


def test_a_stalled_point_is_marked_not_converged_in_table_and_figures(tmp_path):
    # The norm method on modular addition (p = 23, lr 0.01): at α = 0.3 AdamW's steps are large
    # for the sphere and the train loss stays within 3 % of ln 23 (measured: 3.14 → 3.07 in 100
    # steps); at α = 3 it fits (3.3 → 0.006).
    out = CliRunner().invoke(cli, ["landscape", "--task", "modadd", "--alpha", "0.3,3", "--set", "p=23",
                                   "--steps", "100", "--executor", "inprocess", "-q",
                                   "--store", str(tmp_path / "r.db"), "--jsonl", str(tmp_path / "p.jsonl"),
                                   "--plot", str(tmp_path / "lu.png")])
    assert out.exit_code == 0, out.output
    row_03 = next(line for line in out.output.splitlines() if line.split()[:2] == ["-", "0.3"])
    assert "NOT converged: stalled" in row_03
    points = {p["alpha"]: p for p in ls.read_points(tmp_path / "p.jsonl")}
    assert points[0.3]["status"] == "stalled" and not points[0.3]["converged"]
    assert points[0.3]["train_loss"] > 0.95 * points[0.3]["train_loss_init"]
    assert points[0.3]["train_loss_init"] == pytest.approx(math.log(23), rel=0.05)
    assert points[3.0]["status"] != "stalled"
    # in the figure: the stalled point is a hollow marker, left out of the line
    rows = ls.aggregate(list(points.values()))
    ax = plot.draw_lu(rows).axes[0]
    hollow = [line for line in ax.lines if line.get_linestyle() == "None" and line.get_markerfacecolor() == "none"]
    assert hollow and all(points[0.3]["w"] in list(line.get_xdata()) for line in hollow)
    joined = [line for line in ax.lines if line.get_linestyle() == "-" and line.get_marker() in ("o", "s")]
    assert all(points[0.3]["w"] not in list(line.get_xdata()) for line in joined)
    # ... and its heatmap cell is hatched
    two_sizes = [dict(r, n=n) for n in (5, 10) for r in rows]
    fig = plot.draw_heatmaps(two_sizes)
    assert any(patch.get_hatch() for patch in fig.axes[0].patches)


def test_bad_input_is_one_line(tmp_path):
    for args, fix in ((["--task", "modadd", "--n", "10,20"], "drop --n"),
                      (["--task", "mnist", "--alpha", "0:1:3"], "--alpha"),
                      (["--task", "teacher-student", "--set", "n_train=5", "--n", "10"], "use --n"),
                      ([], "say which task")):
        result = CliRunner().invoke(cli, ["landscape", *args, "--store", str(tmp_path / "r.db")])
        assert isinstance(result.exception, UserError) and fix in str(result.exception)
    (tmp_path / "x.jsonl").write_text("{}\n")
    result = CliRunner().invoke(cli, ["landscape", "--from", str(tmp_path / "x.jsonl")])
    assert isinstance(result.exception, UserError)


def test_the_lu_claim_reads_a_landscape_computed_by_the_command(ts_landscape, registry):
    """`grokbench claims` checks the LU mechanism on the runs `grokbench landscape` stores (same
    configs, same run ids; the bundled claim lu-mechanism-teacher-student is this at the paper's
    budget, run by tests/test_claims.py under `pytest -m slow`). Here on the tiny landscape of the
    fixture: its two α are too few to judge a shape, and the claim says so from the curves."""
    import grokbench
    from grokbench.claim_runs import NOT_REPRODUCED, check_claims
    tmp, _, _ = ts_landscape
    group = grokbench.landscape_runs("teacher-student", "0.5,2", [50, 100], "n_train", 60)
    claim = grokbench.Claim("tiny-lu", "test", "LU", "–",
                            checks=(grokbench.Check(grokbench.LUShape(group, "n_train"), "==", 1),))
    [result] = check_claims([claim], registry=registry, store_path=tmp / "runs.db",
                            progress=False)
    assert result.stored_before == 4 and result.trained == 0 and result.status == NOT_REPRODUCED
    [(_, measured, verdict)] = result.checks
    assert measured.value == 0 and verdict == NOT_REPRODUCED and "only 2 converged points" in measured.text
    points = {p["run_id"] for p in (json.loads(x) for x in (tmp / "points.jsonl").read_text().splitlines())}
    assert set(result.run_ids) == points


def test_the_lu_claim_is_not_run_where_only_committed_scores_exist(ts_landscape, registry, tmp_path,
                                                                   monkeypatch):
    """Raw results written before they kept curves hold scores only: with the landscape's runs
    only there, the LU claim is 'not run' (train them with the claim, or keep the store), never a
    false verdict; raw results that keep their compact curves are read."""
    import grokbench
    from grokbench.claim_runs import NOT_RUN, check_claims
    from grokbench.records import records_jsonl, to_record
    tmp, _, _ = ts_landscape
    board = tmp_path / "leaderboards"
    board.mkdir()
    db = Store(tmp / "runs.db")
    try:
        records = [to_record(r) for r in db.records(curves=True)]
    finally:
        db.close()
    (board / "landscape.results.jsonl").write_text(
        records_jsonl({k: v for k, v in r.items() if k != "curve"} for r in records))
    monkeypatch.setenv("GROKBENCH_SUITES_DIR", str(board))
    group = grokbench.landscape_runs("teacher-student", "0.5,2", [50, 100], "n_train", 60)
    claim = grokbench.Claim("tiny-lu", "test", "LU", "–",
                            checks=(grokbench.Check(grokbench.LUShape(group, "n_train"), "==", 1),))
    [result] = check_claims([claim], registry=registry, store_path=tmp_path / "empty.db",
                            use_committed=True, progress=False)
    assert result.status == NOT_RUN and result.reason.startswith("0 of 4 runs stored")
    (board / "landscape.results.jsonl").write_text(records_jsonl(records))  # with their curves
    [result] = check_claims([claim], registry=registry, store_path=tmp_path / "empty.db",
                            use_committed=True, progress=False)
    assert result.status != NOT_RUN and result.stored_before == 4 and result.checks


def test_the_lu_claim_rebuilds_from_the_claims_committed_raw_results(ts_landscape, registry,
                                                                      tmp_path, monkeypatch):
    """`grokbench claims --write` keeps the curves of a curve-reading claim's runs (the keys the
    landscape reads) in claims.results.jsonl, so an empty store with --use-committed gives the
    same verdict and text as the store that trained them, training nothing."""
    import grokbench
    from grokbench.claim_runs import CURVE_KEYS, check_claims, write_report
    from grokbench.records import read_records
    tmp, _, _ = ts_landscape
    board = tmp_path / "leaderboards"
    board.mkdir()
    monkeypatch.setenv("GROKBENCH_SUITES_DIR", str(board))
    group = grokbench.landscape_runs("teacher-student", "0.5,2", [50, 100], "n_train", 60)
    claim = grokbench.Claim("tiny-lu", "test", "LU", "–",
                            checks=(grokbench.Check(grokbench.LUShape(group, "n_train"), "==", 1),))
    [first] = check_claims([claim], registry=registry, store_path=tmp / "runs.db", progress=False)
    write_report([first], board, store_path=tmp / "runs.db", store="s", command="c", versions="v")
    records = read_records(board / "claims.results.jsonl")
    assert len(records) == 4 and all(set(r["curve"][-1]) <= set(CURVE_KEYS) for r in records)
    assert all(r["curve"][-1]["step"] == 60 for r in records)
    [again] = check_claims([claim], registry=registry, store_path=tmp_path / "empty.db",
                           run=[claim], use_committed=True, progress=False)
    assert again.trained == 0 and again.status == first.status
    assert [m.text for _, m, _ in again.checks] == [m.text for _, m, _ in first.checks]


def test_command_says_where_the_test_error_is_least_when_the_loss_points_elsewhere():
    """The committed IMDb landscape: at N = 1000 the reduced BCE test loss is least for the
    α = 10 run, which learned nothing (test error 0.489), while the memorizing α = 0.3 run has
    the least test error (0.251) at a test loss of 1.62. Both are reported; at N = 4000, where
    they agree, only w_c is."""
    points = Path(__file__).resolve().parents[1] / "docs" / "landscapes" / "imdb.jsonl"
    out = CliRunner().invoke(cli, ["landscape", "--from", str(points)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "n_train = 1000: w_c = 2.54e+03 (α = 10), reduced test loss 0.823, test error 0.489" in lines
    assert ("n_train = 1000: the least test error, 0.251, is at w = 76.3 (α = 0.3), not at w_c: "
            "the reduced test loss there is 1.62, so loss and error disagree") in lines
    assert "n_train = 4000: w_c = 76.3 (α = 0.3), reduced test loss 0.587, test error 0.196" in lines
    assert sum("least test error" in line for line in lines) == 1
