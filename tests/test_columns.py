"""The leaderboard tables' columns are declared once (grokbench.columns): a column added there
appears in the Markdown, the CSV and the web page's sortable table alike; and the one formatter
of each kind gives the tables' and the run report's texts."""
import math

from test_leaderboard import rec, two_task_records

from grokbench import columns, leaderboard, render, webpage
from grokbench.commands.common import fmt_run_num, fmt_run_steps
from grokbench.stats import INF


def test_a_column_is_one_entry():
    board = leaderboard.build(two_task_records(), "t")
    extra = columns.Column("nonfinite_runs", "NaN/inf runs", csv=("nonfinite_runs",))
    columns.TASK_COLUMNS.append(extra)
    try:
        md, csv_text = render.to_markdown(board), render.to_csv(board)
        page = webpage.tables_html(board)["table-a"]
    finally:
        columns.TASK_COLUMNS.remove(extra)
    header = next(line for line in md.splitlines() if line.startswith("| rank ") and "median CI" in line)
    assert header.rstrip(" |").endswith("NaN/inf runs")
    assert csv_text.splitlines()[0].endswith(",rank_group,nonfinite_runs")
    assert all(line.endswith(",0") for line in csv_text.splitlines()[1:])
    assert "<button type=\"button\">NaN/inf runs</button>" in page
    assert page.count('<td data-sort="0">0</td>') == len(board["tasks"][0]["rows"])
    assert "NaN/inf runs" not in render.to_markdown(board)  # gone again with its entry


def test_every_shown_column_has_a_header_a_cell_and_a_sort_value():
    board = leaderboard.build(two_task_records(), "t")
    for cols, table in [(columns.TASK_COLUMNS, board["tasks"][0]), (columns.OVERALL_COLUMNS, board["overall"])]:
        width = len(columns.headers(cols, table))
        for row in table["rows"]:
            assert len(columns.cells(cols, row, table)) == width
            assert len(columns.sort_values(cols, row, table)) == width
        assert set(columns.csv_row(cols, table["rows"][0], table)) == set(columns.csv_fields(cols, [table]))


def test_one_formatter_each():
    assert columns.fmt_steps(math.inf) == "∞" and fmt_run_steps(math.inf) == "∞ (not reached)"
    assert columns.fmt_steps(None) == fmt_run_steps(None) == "n/a"
    assert columns.fmt_steps(1500.0, 100) == fmt_run_steps(1500, 100) == "1500 (±100)"
    assert columns.fmt_steps(1250.5, 50.0) == "1250.5 (±50)"  # a median between two seeds
    assert columns.fmt_steps(1234567) == "1234567"  # in full, not 1.23457e+06
    assert columns.fmt_num(0.98765) == "0.988" and fmt_run_num(0.98765) == "0.9877"
    assert columns.fmt_num(12.34, 1) == "12.3" and fmt_run_num(3) == "3"
    assert columns.fmt_num(None) == fmt_run_num(math.nan) == "n/a"
    assert columns.fmt_setting(None) == "null" and columns.fmt_setting([1, 2]) == "[1, 2]"
    assert columns.fmt_setting(1.0) == "1.0" and columns.fmt_setting("adamw") == "adamw"


def test_key_frequencies_at_generalization_column():
    """The count of key Fourier frequencies at the evaluation where each run generalized, median
    over the seeds that did (issue: Fourier fingerprints); shown only where a run recorded it."""
    runs = two_task_records()
    # task A's wd seeds generalize at 100, 200, 300: key frequencies 9, 5, 6 there (and other
    # values at the other evaluations, which must not be read)
    for r in runs:
        if r["task"] == "A" and r["method"] == "wd":
            at = {100: 9, 200: 5, 300: 6}[r["scores"]["steps_to_generalize"]]
            gen = r["scores"]["steps_to_generalize"]
            r["curve"] = [{"step": s, "test_acc": 0.5, "fourier_key_freqs": at if s == gen else 40}
                          for s in (0, 100, 200, 300, 400)]
    # x's seed 1 never generalizes: its curve's values are not read
    x1 = next(r for r in runs if r["task"] == "A" and r["method"] == "x" and r["seed"] == 1)
    x1["curve"] = [{"step": 0, "fourier_key_freqs": 3}]
    board = leaderboard.build(runs + [rec("A", "z", 0, 100)], "t")
    a, b = board["tasks"]
    rows = {r["method"]: r for r in a["rows"]}
    assert rows["wd"]["key_freqs_at_generalization"] == 6  # median of 9, 5, 6
    assert "key_freqs_at_generalization" not in rows["x"] and "key_freqs_at_generalization" not in rows["z"]
    md = render.to_markdown(board)
    table_a, table_b = md.split("\n## A\n")[1].split("\n## B\n")
    assert "key frequencies at generalization" in table_a
    assert "key frequencies at generalization" not in table_b  # no run of B recorded it
    assert render.to_csv(board).splitlines()[0].endswith(",key_freqs_at_generalization")


def test_precision_summary_and_nonfinite_column():
    """The numerics board's summary: the least precise arithmetic in which a majority of seeds
    generalize, and any more precise one that fails (worked out by hand below)."""
    arith = {"bf16": {"dtype": "bfloat16"}, "bf16-mixed": {"precision": "bf16-mixed"},
             "fp32": {"dtype": "float32", "precision": "pure"}, "fp64": {"dtype": "float64"}}
    gens = {  # per method and arithmetic: the seeds' steps-to-generalize
        "wd": {"bf16": [INF, INF, 300], "bf16-mixed": [200, INF, 300], "fp32": [100, 100, 200],
               "fp64": [INF, INF, INF]},
        "sm": {"bf16": [INF, INF, INF], "fp32": [INF, 900, INF]},
    }
    runs = [rec("A", m, s, g, **arith[a]) for m, by in gens.items() for a, gs in by.items()
            for s, g in enumerate(gs)]
    runs[0]["scores"]["nonfinite"] = True  # wd in bf16, seed 0: stopped by a NaN loss
    board = leaderboard.build(runs, "t")
    summary = {r["method"]: r["tasks"]["A"] for r in board["precision_summary"]["rows"]}
    assert summary["wd"]["lowest"] == "bf16-mixed" and summary["wd"]["fails_above"] == ["fp64"]
    assert summary["wd"]["solved"]["bf16"] == [1, 3]
    assert summary["sm"]["lowest"] is None and summary["sm"]["tried"] == ["bf16", "fp32"]
    md = render.to_markdown(board)
    assert "| wd       | bf16-mixed (fails: fp64) |" in md and "| sm       | none" in md
    assert "NaN/inf stops" in md and render.to_csv(board).splitlines()[0].count("nonfinite_runs") == 1
    # one kind of arithmetic: no summary, and no NaN/inf column where nothing stopped
    plain = leaderboard.build(two_task_records(), "t")
    assert "precision_summary" not in plain and "NaN/inf stops" not in render.to_markdown(plain)


def test_pairs_refused_for_one_reason_are_listed_once_per_reason():
    # A precision axis refuses the same combination for every method of every task; each reason
    # is written once with the methods and tasks it covers, and a lone pair keeps its old wording.
    mixed = "mixed precision keeps float32 master weights"
    refused = [(t, m, mixed) for t in ("modadd", "parity") for m in ("wd", "muon")]
    refused.append(("qm9", "stablemax", "classification loss"))
    assert render.not_applicable_text(refused) == (
        "wd, muon on modadd, parity (mixed precision keeps float32 master weights); "
        "qm9/stablemax (classification loss)")
    uneven = [("modadd", "wd", "r"), ("parity", "muon", "r")]
    assert render.not_applicable_text(uneven) == "modadd/wd, parity/muon (r)"
    table = {"task": "parity", "rows": []}
    rows = render.task_rows(table, refused)
    assert [r[:4] for r in rows] == [["–", "wd, muon", "n/a", f"not applicable: {mixed}"]]


def test_a_board_over_several_models_says_how_much_each_method_depends_on_its_model():
    # Hand-worked: wd generalizes on both models (medians 200 and 1000: 5×), x only on the mlp
    # (the decoder's median is ∞, 1 of 3), y on neither; a board with one model per task has no
    # such section (every committed board but architectures).
    gens = {("wd", "mlp"): [100, 200, 300], ("wd", "decoder"): [900, 1000, INF],
            ("x", "mlp"): [50, 60, 70], ("x", "decoder"): [INF, INF, 500],
            ("y", "mlp"): [INF] * 3, ("y", "decoder"): [INF] * 3}
    runs = [rec("modmul", m, s, g, model=model) for (m, model), gs in gens.items()
            for s, g in enumerate(gs)]
    board = leaderboard.build(runs, "arch")
    summary = board["model_summary"]["tasks"][0]
    assert summary["models"] == ["mlp", "decoder"]
    rows = {r["method"]: r for r in summary["rows"]}
    assert rows["wd"]["models"]["decoder"] == {"solved": [2, 3], "median": 1000}
    assert rows["wd"]["spread"] == 5.0 and rows["x"]["spread"] is None
    md = render.to_markdown(board)
    assert "| wd       | 3/3 · 200 | 2/3 · 1000 | 5.00×               |" in md
    assert "| x        | 3/3 · 60  | 1/3 · ∞    | solves on mlp only  |" in md
    assert "| y        | 0/3 · ∞   | 0/3 · ∞    | solves on none      |" in md
    assert "model_summary" not in leaderboard.build(two_task_records(), "t")


def test_a_row_over_several_models_is_labelled_by_the_model_alone():
    # The decoder brings n_layers=2 and an input format, the MLP neither: those follow from the
    # model and are left out of the label (the board's settings list keeps them); a setting
    # that varies within one model (here lr) stays in it.
    runs = [rec("modmul", "wd", 0, 100, model="mlp", input_format="pair"),
            rec("modmul", "wd", 0, 200, model="decoder", n_layers=2, input_format="equation")]
    assert sorted(leaderboard.label_runs(runs)["modmul"]) == ["wd (model=decoder)", "wd (model=mlp)"]
    runs.append(rec("modmul", "wd", 0, 300, model="mlp", input_format="pair", lr=0.1))
    assert sorted(leaderboard.label_runs(runs)["modmul"]) == [
        "wd (lr=0.1, model=mlp)", "wd (lr=null, model=decoder)", "wd (lr=null, model=mlp)"]


def test_missing_runs_of_a_grid_suite_name_their_row():
    # wd's MLP runs are in and its decoder runs are not: the missing ones are named by model,
    # and the rows that are in are labelled as the complete suite will label them, "wd
    # (model=mlp)", not plain "wd" (nothing differs among the runs that are in)
    present = [rec("modmul", "wd", s, 100, model="mlp") for s in range(3)]
    missing = [{**rec("modmul", "wd", s, INF, model="decoder", n_layers=2)["config"]} for s in (0, 1)]
    rows = leaderboard.missing_rows(present, missing)
    assert rows == [("modmul", "wd (model=decoder)", 0), ("modmul", "wd (model=decoder)", 1)]
    board = leaderboard.build(present, "arch", missing_configs=missing)
    assert board["missing"] == [list(r) for r in rows]
    assert [r["method"] for r in board["tasks"][0]["rows"]] == ["wd (model=mlp)"]
    assert list(leaderboard.label_runs(present, missing)["modmul"]) == ["wd (model=mlp)"]
    assert list(leaderboard.label_runs(present)["modmul"]) == ["wd"]
    # "wd (model=decoder)" is unranked (it has no runs); "wd (model=mlp)" is complete on modmul
    overall = {r["method"]: r for r in board["overall"]["rows"]}
    assert overall["wd (model=mlp)"]["rank"] == 1 and "incomplete_tasks" not in overall["wd (model=mlp)"]
