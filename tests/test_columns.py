"""The leaderboard tables' columns are declared once (grokbench.columns): a column added there
appears in the Markdown, the CSV and the web page's sortable table alike; and the one formatter
of each kind gives the tables' and the run report's texts."""
import math

from test_leaderboard import two_task_records

from grokbench import columns, leaderboard, render, webpage
from grokbench.commands.common import fmt_run_num, fmt_run_steps


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
