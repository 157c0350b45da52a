"""Leaderboards: statistics with ∞ misses, performance profiles and speedups against hand
computations; the command's --write / --from / --check round trip on a real store; and the
committed quick suite's tables against their own raw results."""
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grokbench import check, render, stats
from grokbench import leaderboard as lb

INF = math.inf
ROOT = Path(__file__).resolve().parent.parent


def rec(task, method, seed, gen, fit=10, onset=INF, acc=1.0, res=10, wall=2.0, **cfg):
    """A run record as the store would give it (the numbers are what the tables are made of)."""
    config = {"task": task, "method": method, "seed": seed, "steps": 3000, "eval_every": 100,
              "target_metric": "test_acc", "target": 0.95, "fit_target": 0.99,
              "sc_threshold": 0.1, "weight_decay": 1.0 if method == "wd" else 0.0, **cfg}
    scores = {"steps_to_fit": fit, "steps_to_fit_resolution": 1,
              "steps_to_generalize": gen, "steps_to_generalize_resolution": None if math.isinf(gen) else res,
              "grokking_delay": gen - fit if math.isfinite(gen) else INF,
              "collapse_onset": onset, "collapse_onset_resolution": None if math.isinf(onset) else res,
              "sc_threshold": 0.1, "max_sc": 0.0, "final_test_acc": acc, "wall_time": wall}
    return {"run_id": f"{task}-{method}-{seed}-{json.dumps(cfg, sort_keys=True)}", "task": task,
            "method": method, "seed": seed, "status": "finished", "config": config,
            "scores": scores, "summary": {}, "versions": {"grokbench": "0.1.0", "torch": "x"}}


def two_task_records():
    """Task A: wd 100/200/300, x 50/∞/60, y ∞/∞/400. Task B: wd 1000×3, x 500/700/600,
    y 2000/2000/2500."""
    runs = []
    for method, gens in {"wd": [100, 200, 300], "x": [50, INF, 60], "y": [INF, INF, 400]}.items():
        runs += [rec("A", method, s, g, onset=[20, INF, 30][s] if method == "y" else INF)
                 for s, g in enumerate(gens)]
    for method, gens in {"wd": [1000] * 3, "x": [500, 700, 600], "y": [2000, 2000, 2500]}.items():
        runs += [rec("B", method, s, g, res=100) for s, g in enumerate(gens)]
    return runs


def rows_by_method(table):
    return {r["method"]: r for r in table["rows"]}


def test_quantiles_with_infinity():
    assert stats.median([300, 100, 200]) == 200
    assert stats.median([50, INF, 60]) == 60
    assert stats.median([INF, INF, 400]) == INF          # fails on most seeds: the median is ∞
    assert stats.median([10, 20, 30, 40]) == 25
    assert stats.median([10, 20, 30, INF]) == 25
    assert stats.median([10, 20, INF, INF]) == INF
    assert stats.quantile([100, 200, 300], 0.25) == 150
    assert stats.quantile([100, 200, 300], 0.75) == 250
    assert stats.quantile([50, 60, INF], 0.25) == 55
    assert stats.quantile([50, 60, INF], 0.75) == INF
    assert stats.quantile([1, 2, 3, 4, 5], 0.75) == 4
    # the median's resolution is that of the run it comes from (or the coarser of two)
    assert stats.median_with_resolution([300, 100, 200], [5, 7, 9]) == (200, 9)
    assert stats.median_with_resolution([10, 20, 30, 40], [1, 2, 8, 4]) == (25, 8)


def test_median_interval_and_solved_band_hand_computed():
    # coverage of (x_(k), x_(n+1-k)) is 1 - 2 P(Binom(n, 1/2) < k)
    assert stats.median_ci([3, 1, 2]) == (1, 3, 0.75)
    assert stats.median_ci([5, 1, 4, 2, 3]) == (1, 5, 0.9375)
    # n = 10: k = 2 covers 1 - 2·11/1024 = 97.9 %, k = 3 only 1 - 2·56/1024 = 89.1 % ≥ 75 %,
    # k = 4: 1 - 2·176/1024 = 65.6 % < 75 %: so k = 3
    assert stats.median_ci(list(range(10))) == (2, 7, 1 - 2 * 56 / 1024)
    # 3 seeds: a re-run may move the solved count by one, no more
    assert [stats.binomial_band(k, 3) for k in range(4)] == [(0, 1), (0, 2), (1, 3), (2, 3)]


def test_task_tables_hand_computed():
    board = lb.build(two_task_records(), "t")
    a, b = (rows_by_method(t) for t in board["tasks"])
    assert [t["task"] for t in board["tasks"]] == ["A", "B"]
    assert (a["wd"]["solved"], a["x"]["solved"], a["y"]["solved"]) == (3, 2, 1)
    # with 3 seeds the median's distribution-free interval is [min, max], at 75 % coverage
    assert a["wd"]["steps_to_generalize"] == 200 and a["wd"]["ci"] == [100, 300]
    assert a["wd"]["ci_coverage"] == 0.75
    assert a["x"]["steps_to_generalize"] == 60 and a["x"]["ci"] == [50, INF]
    assert a["y"]["steps_to_generalize"] == INF and a["y"]["ci"] == [400, INF]
    assert a["wd"]["grokking_delay"] == 190 and a["y"]["grokking_delay"] == INF
    assert a["y"]["collapse_onset"] == 30 and a["wd"]["collapse_onset"] == INF
    assert (a["x"]["rank"], a["wd"]["rank"], a["y"]["rank"]) == (1, 2, 3)
    assert b["x"]["steps_to_generalize"] == 600 and b["y"]["steps_to_generalize"] == 2000
    assert b["x"]["steps_to_generalize_resolution"] == 100


def test_profiles_scores_and_speedups_hand_computed():
    board = lb.build(two_task_records(), "t", reference="wd")
    ratios = lb.profile_ratios(board["tasks"])
    # best on A is x (60), on B is x (600)
    assert ratios["wd"] == pytest.approx({"A": 200 / 60, "B": 1000 / 600})
    assert ratios["x"] == {"A": 1.0, "B": 1.0}
    assert ratios["y"]["A"] == INF and ratios["y"]["B"] == pytest.approx(2000 / 600)
    assert lb.rho(ratios["wd"], 1.0) == 0 and lb.rho(ratios["wd"], 2) == 0.5
    assert lb.rho(ratios["wd"], 3.5) == 1.0 and lb.rho(ratios["y"], 4) == 0.5
    # B = Σ_tasks max(0, 4 − r) / (|tasks| · 3)
    rows = {r["method"]: r for r in board["overall"]["rows"]}
    assert rows["x"]["score"] == pytest.approx(1.0)
    assert rows["wd"]["score"] == pytest.approx(((4 - 10 / 3) + (4 - 5 / 3)) / 6)  # 0.5
    assert rows["y"]["score"] == pytest.approx((4 - 10 / 3) / 6)
    # the integral form, by brute force on a fine grid
    grid = [1 + 3 * (i + 0.5) / 30000 for i in range(30000)]
    assert sum(lb.rho(ratios["wd"], t) for t in grid) / len(grid) == pytest.approx(0.5, abs=1e-3)
    assert rows["x"]["speedup"] == pytest.approx(math.sqrt((200 / 60) * (1000 / 600)))
    assert rows["x"]["speedup_tasks"] == 2
    assert rows["y"]["speedup"] == pytest.approx(0.5) and rows["y"]["speedup_tasks"] == 1
    assert rows["y"]["missed_where_reference_solved"] == 1
    assert rows["wd"]["speedup"] == pytest.approx(1.0)
    assert [(r["method"], r["rank"]) for r in board["overall"]["rows"]] == [("x", 1), ("wd", 2), ("y", 3)]
    assert (rows["x"]["tasks_solved"], rows["y"]["tasks_solved"]) == (2, 1)


def test_a_task_nobody_solves_counts_against_everyone():
    runs = two_task_records() + [rec("C", m, s, INF) for m in ("wd", "x", "y") for s in range(3)]
    rows = {r["method"]: r for r in lb.build(runs, "t")["overall"]["rows"]}
    assert rows["x"]["score"] == pytest.approx(2 / 3)       # 1 + 1 + 0 over 3 tasks
    assert rows["x"]["speedup_tasks"] == 2                  # C has no finite ratio


def test_a_method_with_missing_runs_is_not_ranked_and_scores_only_what_it_ran():
    # z has run only task B, all seeds (500/500/500, better than x's 600): a suite built in
    # pieces. Task A would count as a miss; instead z is unranked and scored on B alone.
    runs = two_task_records() + [rec("B", "z", s, 500, res=100) for s in range(3)]
    board = lb.build(runs, "t", reference="wd",
                     missing_configs=[rec("A", "z", s, INF)["config"] for s in range(3)])
    rows = {r["method"]: r for r in board["overall"]["rows"]}
    assert rows["z"]["rank"] is None and rows["z"]["incomplete_tasks"] == ["A"]
    assert rows["z"]["score"] == pytest.approx(1.0) and rows["z"]["tasks"] == 1
    assert rows["z"]["speedup"] == pytest.approx(2.0) and rows["z"]["speedup_tasks"] == 1
    # the best on B is now z's 500, so x's B ratio is 600/500: (3 + (4 − 1.2)) / 6
    assert rows["x"]["score"] == pytest.approx((3 + 2.8) / 6)
    assert [(r["method"], r["rank"]) for r in board["overall"]["rows"]] == [
        ("x", 1), ("wd", 2), ("y", 3), ("z", None)]
    text = "\n".join(render.to_markdown(board).splitlines())
    assert "| –      | z " in text and "1/1 (not yet complete: A)" in text
    assert check.self_consistent(board) == []


def test_grid_variants_get_their_own_rows():
    runs = [rec("A", "wd", s, 100 * (s + 1), weight_decay_extra=wd)
            for s in range(3) for wd in (0.1, 1.0)]
    labels = sorted(r["method"] for r in lb.build(runs, "t")["tasks"][0]["rows"])
    assert labels == ["wd (weight_decay_extra=0.1)", "wd (weight_decay_extra=1.0)"]


def test_runs_recorded_before_an_option_existed_share_a_row_with_runs_at_its_default():
    """The full suite's seeds 0-2 were recorded before input_format, nonzero_b, last_batch,
    precision and warmup_steps existed; its seeds 3-4 carry them at the defaults that reproduce
    seeds 0-2 (the same run ids). They are one row, with the options shown as shared; a run at
    another value is a row of its own, and the older runs are labelled with the default."""
    from grokbench.config import run_id
    committed = [json.loads(line) for line in
                 (ROOT / "leaderboards" / "full.results.jsonl").read_text().splitlines()]
    cell = [r for r in committed if (r["task"], r["method"]) == ("modadd", "wd")]
    old = [r for r in cell if r["seed"] < 3]
    assert len(old) == 3 and "input_format" not in old[0]["config"]
    at_defaults = {"input_format": "pair", "nonzero_b": False, "last_batch": "drop",
                   "precision": "pure", "warmup_steps": 0}
    # the committed seeds 3-4 are such runs: one row with seeds 0-2
    real_new = [r for r in cell if r["seed"] >= 3]
    assert len(real_new) == 2 and all(r["config"]["input_format"] == "pair" for r in real_new)
    (real_row,) = lb.build(cell, "t")["tasks"][0]["rows"]
    assert (real_row["method"], real_row["seeds"]) == ("wd", [0, 1, 2, 3, 4])
    new = [dict(r, config={**r["config"], **at_defaults, "seed": 3 + i}, seed=3 + i)
           for i, r in enumerate(old[:2])]
    assert run_id(new[0]["config"]) == run_id(dict(old[0]["config"], seed=3))
    (table,) = lb.build(old + new, "t")["tasks"]
    (row,) = table["rows"]
    assert (row["method"], row["solved"], row["seeds"]) == ("wd", 5, [0, 1, 2, 3, 4])
    assert {k: table["meta"]["settings"][k] for k in at_defaults} == at_defaults
    warm = dict(new[0], config={**new[0]["config"], "warmup_steps": 10})
    labels = sorted(r["method"] for r in lb.build(old + new + [warm], "t")["tasks"][0]["rows"])
    assert labels == ["wd (warmup_steps=0)", "wd (warmup_steps=10)"]


def test_a_board_built_before_any_plugin_is_loaded_still_shares_the_row():
    """Which settings a run id leaves out at their defaults is declared by plugins (the modular
    tasks' input_format): a notebook that builds a board before anything loaded them got two
    rows of wd. A fresh interpreter, with nothing but grokbench.leaderboard imported."""
    code = textwrap.dedent(f"""
        import json
        from grokbench import leaderboard as lb
        recs = [json.loads(line) for line in open({str(ROOT / "leaderboards" / "full.results.jsonl")!r})]
        old = [r for r in recs if (r["task"], r["method"]) == ("modadd", "wd")]
        new = [dict(r, seed=3, config={{**r["config"], "seed": 3, "input_format": "pair",
                                         "nonzero_b": False}}) for r in old[:1]]
        print([r["method"] for r in lb.build(old + new, "t")["tasks"][0]["rows"]])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['wd']"


def test_a_board_states_its_rules_for_the_seeds_it_has():
    """The board's texts follow its seed count. 3 seeds: the median's interval is the range at
    1 − 2/2³ = 75 %, the solved band k ± 1, the smallest exact log-rank p 2/C(6, 3) = 0.1, so no
    pair separates. 5 seeds: the range at 1 − 2/2⁵ = 94 %; p̂ = (k + ½)/6 gives the 80 % bands
    0–1, 0–3, 1–4, 1–4, 2–5, 4–5; the smallest p is 2/C(10, 5) = 2/252, under Holm's first
    threshold 0.05/M for M ≤ 6 pairs."""
    three = lb.build(two_task_records(), "t")
    md = render.to_markdown(three)
    assert "(with 3 seeds: the range over seeds, 75 % coverage;" in md
    assert "(with 3 seeds: within ±1)" in three["tolerance"]
    assert "no pair can be separated: the smallest exact p is 2/C(6, 3) = 0.1 " in md
    five = lb.build([rec("A", m, s, 100 * (s + 1) + (m == "x")) for m in ("wd", "x") for s in range(5)], "t")
    md = render.to_markdown(five)
    assert "(with 5 seeds: the range over seeds, 94 % coverage;" in md
    assert "(with 5 seeds: 0/5: 0–1, 1/5: 0–3, 2/5: 1–4, 3/5: 1–4, 4/5: 2–5, 5/5: 4–5)" in five["tolerance"]
    assert ("2/C(10, 5) = 0.0079, so Holm's correction can separate a pair only on a board that "
            "tests at most 6 pairs") in md
    # 10 seeds: (x_(3), x_(8)) covers 1 − 2·(1 + 10 + 45)/2¹⁰ = 89 %; x_(4)..x_(7) only 66 %
    assert lb.median_ci_phrase(10) == "from the 3rd lowest to the 3rd highest seed, 89 % coverage"


def test_markdown_shows_infinity_none_and_provenance():
    board = lb.build(two_task_records(), "demo", "a demo suite", commands={"Regenerate": "grokbench x"})
    md = render.to_markdown(board)
    assert "# grokbench leaderboard: demo" in md and "`grokbench x`" in md
    line_y = next(line for line in md.splitlines() if "| y " in line and "1/3" in line)
    assert line_y.startswith("| 3 ") and "∞" in line_y and "30 (±10)" in line_y
    line_wd = next(line for line in md.splitlines() if "| wd " in line and "3/3" in line)
    assert "none" in line_wd and "100–300" in line_wd
    assert "r_max = 4" in md and "speedup vs wd" in md
    csv_text = render.to_csv(board)
    assert csv_text.splitlines()[0].startswith("task,rank,method,runs,solved")
    assert "A,3,y,3,1,inf" in csv_text


def test_survival_view_of_the_task_tables_hand_computed():
    """Task A of two_task_records, budget 3000: x = 50, ∞, 60 → RMST (50 + 60 + 3000)/3 =
    1036.67; KM P(generalized) 1/3 at 50 and 2/3 at 60, one run censored at the budget.
    With 3 seeds a side no pair is significant (smallest exact p 0.1): one rank group."""
    board = lb.build(two_task_records(), "t")
    a = rows_by_method(board["tasks"][0])
    assert a["x"]["rmst"] == pytest.approx(1036.67) and a["wd"]["rmst"] == 200
    assert [k[:2] for k in a["x"]["km"]] == [[50, pytest.approx(1 / 3, abs=1e-6)],
                                             [60, pytest.approx(2 / 3, abs=1e-6)]]
    assert a["x"]["censored"] == [[3000, "budget"]] and a["wd"]["censored"] == []
    assert board["tasks"][0]["meta"]["rmst_tau"] == 3000
    assert {r["rank_group"] for t in board["tasks"] for r in t["rows"]} == {"a"}
    wd_y = next(p for p in board["tasks"][0]["pairs"] if {p["a"], p["b"]} == {"wd", "y"})
    assert (wd_y["p"], wd_y["sooner"], wd_y["significant"]) == (0.1, "wd", False)
    assert wd_y["p_holm"] == pytest.approx(0.6)  # 6 pairs tested, each at p ≥ 0.1
    sig = board["overall"]["significance"]
    assert (sig["pairs_tested"], sig["task_orderings"], sig["task_orderings_significant"]) == (6, 6, 0)
    assert (sig["orderings"], sig["orderings_significant"]) == (3, 0)
    md = render.to_markdown(board)
    assert "| 1037 (0–2608)    | a " in md and "0 of the 6 pairwise orderings" in md
    assert ["wd", "y", "wd", "5.05", "0.1", "0.6", "no"] in render.pair_rows(board["tasks"][0])
    assert "pairwise tests (exact log-rank)" in md


def test_rank_groups_split_where_the_seeds_can_say_so():
    """8 seeds a side: complete separation gives the exact p 2/C(16, 8) = 0.000155, which
    survives Holm over the board's 3 pairs (0.05/3): three groups, every ordering significant.
    A NaN stop is censored at its step with its reason; with no run generalized, Ŝ stays 1
    and RMST is the budget whatever the censoring."""
    runs = []
    for method, gen in {"fast": 100, "slow": 900, "never": INF}.items():
        runs += [rec("T", method, s, gen) for s in range(8)]
    nan = next(r for r in runs if (r["method"], r["seed"]) == ("never", 7))
    nan["status"] = "nonfinite"
    nan["scores"].update(nonfinite=True, steps_run=1500)
    board = lb.build(runs, "t")
    table = board["tasks"][0]
    groups = {r["method"]: r["rank_group"] for r in table["rows"]}
    assert groups == {"fast": "a", "slow": "b", "never": "c"}
    assert all(p["significant"] for p in table["pairs"])
    assert table["pairs"][0]["p"] == pytest.approx(2 / 12870, rel=1e-5)
    never = rows_by_method(table)["never"]
    assert never["censored"][-1] == [1500, "nonfinite"] and never["rmst"] == 3000
    sig = board["overall"]["significance"]
    # across tasks slow (9× the best) and never share B = 0, so 2 orderings there, both backed
    assert (sig["task_orderings_significant"], sig["orderings"], sig["orderings_significant"]) == (3, 2, 2)
    assert {r["method"]: (r["significantly_sooner"], r["significantly_later"])
            for r in board["overall"]["rows"]} == {"fast": (2, 0), "slow": (1, 1), "never": (0, 2)}
    assert "censored at a NaN/inf stop: never at step 1500" in render.to_markdown(board)
    # the last field: NaN/inf stops, a column of tables where some run had one
    assert render.to_csv(board).splitlines()[1].endswith(",100,100,100,a,0")


def test_json_round_trip_keeps_infinity():
    board = lb.build(two_task_records(), "t")
    again = render.read_json(render.to_json(board))
    assert json.loads(render.to_json(board))  # strict JSON (no bare Infinity)
    assert "Infinity" not in render.to_json(board)
    assert rows_by_method(again["tasks"][0])["y"]["steps_to_generalize"] == INF
    assert check.compare(board, again) == [] and check.self_consistent(again) == []


def test_compare_applies_the_stated_rule():
    committed = render.read_json(render.to_json(lb.build(two_task_records(), "t")))
    runs = two_task_records()
    b_x = {r["seed"]: r["scores"] for r in runs if r["task"] == "B" and r["method"] == "x"}
    # B / x committed 500/700/600: a median anywhere in 500–700 ± 100 agrees
    b_x[2]["steps_to_generalize"] = 780  # median 600 → 700
    a_wd = [r["scores"] for r in runs if r["task"] == "A" and r["method"] == "wd"]
    a_wd[0]["steps_to_generalize"] = INF  # A / wd: 3/3 → 2/3 solved, inside the band 2–3
    assert check.compare(committed, lb.build(runs, "t")) == []
    # beyond it: one readable line naming task, method, what moved and what was allowed
    b_x[0]["steps_to_generalize"], b_x[1]["steps_to_generalize"] = 900, 950  # median 900
    a_wd[1]["steps_to_generalize"] = INF  # 1/3 solved
    diffs = check.compare(committed, lb.build(runs, "t"))
    assert ("B / x: median steps-to-generalize 900, outside the committed interval 500–700 ± 100 "
            "(committed median 600)") in diffs, diffs
    assert "A / wd: solved 1/3, committed 3/3 (allowed: 2–3)" in diffs, diffs
    # a hand-edited cross-task table no longer follows from the task tables
    committed["overall"]["rows"][0]["score"] = 0.25
    assert check.self_consistent(committed)


# -- the command, on a real store -------------------------------------------------------------

def grokbench(*args, env=None, check=True):
    """The real command in a fresh process (exit codes and stderr as a user sees them)."""
    proc = subprocess.run([sys.executable, "-m", "grokbench", *args], capture_output=True,
                          text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def cli(capsys, *args):
    """The same command in this process (no torch import per call): (exit code, stdout, stderr)."""
    from grokbench.cli import main
    sys_argv, sys.argv = sys.argv, ["grokbench", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = sys_argv
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_suite(tmp_path, store_path, monkeypatch):
    """A two-method suite of 5-step runs on modadd p = 7, run into a real SQLite store."""
    import os
    from grokbench.engine import run
    from grokbench.grid import expand
    from grokbench.registry import get_registry
    from grokbench.store import Store
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "tiny.toml").write_text(
        'description = "tiny test suite"\ntasks = ["modadd"]\nmethods = ["baseline", "wd"]\n'
        'seeds = [0, 1, 2]\n[settings]\np = 7\nsteps = 5\neval_every = 5\nthreads = 1\n')
    monkeypatch.setenv("GROKBENCH_SUITES_DIR", str(suites))
    from grokbench.grid import load_suite
    store = Store(store_path)
    for cfg in expand(get_registry(), load_suite("tiny")):
        store.save(run(cfg, progress=False))
    store.close()
    return suites, dict(os.environ)


def test_write_from_and_check_round_trip(tiny_suite, capsys):
    suites, env = tiny_suite
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--write")
    assert code == 0, err
    assert "## modadd" in out and "| baseline" in out
    for name in ("tiny.md", "tiny.json", "tiny.csv", "tiny.overall.csv", "tiny.results.jsonl",
                 "tiny.profile.png"):
        assert (suites / name).stat().st_size > 0, name
    assert len((suites / "tiny.results.jsonl").read_text().splitlines()) == 6
    # the raw file alone rebuilds the same tables
    _, raw, _ = cli(capsys, "leaderboard", "--suite", "tiny", "--from",
                    str(suites / "tiny.results.jsonl"), "--format", "json")
    _, stored, _ = cli(capsys, "leaderboard", "--suite", "tiny", "--format", "json")
    a, b = render.read_json(raw), render.read_json(stored)
    assert check.compare(a, b) == [] and [t["rows"] for t in a["tasks"]] == [t["rows"] for t in b["tasks"]]
    ok = grokbench("leaderboard", "--suite", "tiny", "--check", env=env)
    assert "OK" in ok.stdout

    # a hand edit of the committed JSON is caught, with a readable line
    committed = json.loads((suites / "tiny.json").read_text())
    committed["tasks"][0]["rows"][0]["solved"] = 3
    committed["tasks"][0]["rows"][0]["ci"] = [0, 0]
    (suites / "tiny.json").write_text(json.dumps(committed))
    bad = grokbench("leaderboard", "--suite", "tiny", "--check", env=env, check=False)
    assert bad.returncode == 1
    assert "committed 3/3 (allowed: 2–3)" in bad.stderr and "not the rendering" in bad.stderr
    # and the tables rebuilt from the committed raw results must be the committed ones exactly
    raw = grokbench("leaderboard", "--suite", "tiny", "--check", "--from",
                    str(suites / "tiny.results.jsonl"), env=env, check=False)
    assert raw.returncode == 1 and "is not what tiny.results.jsonl gives" in raw.stderr

    # so is an edit of the Markdown alone
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    md = (suites / "tiny.md").read_text().replace("| 1 ", "| 2 ", 1)
    (suites / "tiny.md").write_text(md)
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--check")
    assert code == 1 and "not the rendering of tiny.json" in err


def test_missing_runs_and_bad_files_are_user_errors(tiny_suite, tmp_path, capsys):
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--store", str(tmp_path / "empty.db"))
    assert code == 2 and "grokbench sweep --suite tiny" in err and "--allow-missing" in err
    # a store with one run of the suite: ranked with --allow-missing, the other five listed
    from grokbench.store import Store
    full, part = Store(tmp_path / "runs.db"), Store(tmp_path / "part.db")
    part.save(full.results(method="wd")[0])
    full.close(), part.close()
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--store",
                         str(tmp_path / "part.db"), "--allow-missing")
    assert code == 0, err
    assert "**5 runs of the suite are missing**" in out and "modadd/baseline/seeds 0, 1, 2" in out
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    code, _, err = cli(capsys, "leaderboard", "--from", str(tmp_path / "bad.jsonl"))
    assert code == 2 and "bad.jsonl:1 is not JSON" in err and "Traceback" not in err


# -- the committed suite ----------------------------------------------------------------------

def test_committed_quick_tables_follow_from_their_raw_results():
    """What CI checks against a fresh sweep, checked here against the committed raw file: the
    tables, the Markdown and the raw results of leaderboards/quick agree."""
    raw = ROOT / "leaderboards" / "quick.results.jsonl"
    if not raw.exists():
        pytest.skip("leaderboards/quick.results.jsonl not generated yet")
    proc = grokbench("leaderboard", "--suite", "quick", "--check", "--from", str(raw), check=False)
    assert proc.returncode == 0, proc.stderr


def test_sensitivity_missing_seeds_and_not_applicable_are_shown():
    runs = two_task_records()
    for r in runs:
        r["versions"]["aten_cpu_capability"] = "AVX512"
    other = json.loads(json.dumps(runs).replace('"AVX512"', '"AVX2"'))
    # under AVX2, A / wd seed 0 generalizes at 900 instead of 100: median 200 → 300
    next(r for r in other if (r["task"], r["method"], r["seed"]) == ("A", "wd", 0))["scores"][
        "steps_to_generalize"] = 900
    board = lb.build(runs[1:], "t", seeds=[0, 1, 2], codepaths={"AVX2": other},
                     not_applicable=[("B", "z", "loss 'z' applies to classification tasks")])
    a = rows_by_method(board["tasks"][0])
    assert a["x"]["sensitive"] is False and a["wd"]["codepaths"]["AVX2"]["steps_to_generalize"] == 300
    assert a["wd"]["sensitive"] is True  # seed 0 is missing on AVX512: 2 runs, median 250
    assert a["wd"]["runs"] == 2 and a["wd"]["expected_runs"] == 3
    md = render.to_markdown(board)
    assert "2/2 (2/3 seeds run)" in md and "**fragile**" in md and "stable (2 code paths)" in md
    assert "| –      | z " in md and "not applicable: loss 'z' applies to classification tasks" in md
    assert [o["method"] for o in board["sensitivity"]][0] == "wd"
    # only the median moved (all seeds solved under both code paths)
    same_solved = json.loads(json.dumps(runs).replace('"AVX512"', '"AVX2"'))
    for r in same_solved:
        if (r["task"], r["method"]) == ("A", "wd"):
            r["scores"]["steps_to_generalize"] += 50
    md = render.to_markdown(lb.build(runs, "t", codepaths={"AVX2": same_solved}))
    assert "**fragile**: solved 3/3, median 200–250" in md


def test_a_suite_board_at_fewer_seeds_than_it_has(tmp_path):
    """--seeds 0-1: the committed quick suite (3 seeds) as if it had 2, to see what a third seed
    changed; it cannot be checked against, or written over, the whole suite's tables."""
    raw = Path(__file__).parent.parent / "leaderboards" / "quick.results.jsonl"
    committed = [json.loads(line) for line in raw.read_text().splitlines()]
    cmd = [sys.executable, "-m", "grokbench", "leaderboard", "--suite", "quick", "--from", str(raw)]
    out = subprocess.run([*cmd, "--seeds", "0-1", "--format", "json"], capture_output=True,
                         text=True, check=True).stdout
    board = json.loads(out)
    assert board["runs"] == sum(r["seed"] in (0, 1) for r in committed) == len(committed) * 2 // 3
    assert all(row["seeds"] == [0, 1] for t in board["tasks"] for row in t["rows"])
    assert "Built with --seeds 0-1: only seeds 0, 1 of the suite's 0, 1, 2." in board["description"]
    assert board["missing"] == []  # seed 2 is not missing: the board is of seeds 0-1
    for flags in (["--check"], ["--write"]):
        refused = subprocess.run([*cmd, "--seeds", "0-1", *flags], capture_output=True, text=True)
        assert refused.returncode == 2 and "--out-dir of its own" in refused.stderr
        assert "Traceback" not in refused.stderr
    written = subprocess.run([*cmd, "--seeds", "0-1", "--write", "--out-dir", str(tmp_path)],
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    assert json.loads((tmp_path / "quick.json").read_text())["runs"] == board["runs"]
