"""The web page's curves, when they come from a store whose runs (same ids) scored otherwise than
the table's raw results, are marked as such, above the figure and in its legend; the methods
are told apart by a colour-blind-safe colour and a dash pattern each."""
import importlib.util
import json
import re

import pytest

from grokbench.webpage import DASHES, PAGE_COLORS

from test_leaderboard import cli, tiny_suite  # noqa: F401  (tiny_suite is a fixture)

pytestmark = pytest.mark.skipif(importlib.util.find_spec("plotly") is None,
                                reason="the web page needs plotly: pip install 'grokbench[html]'")


def test_curves_that_disagree_with_the_table_are_marked(tiny_suite, tmp_path, capsys):  # noqa: F811
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    raw = suites / "tiny.results.jsonl"
    # The raw results as computed on another machine: one wd run generalized at step 3 there
    # (here its runs did not within their 5 steps), so the table says wd solved 1 of 3.
    records = [json.loads(line) for line in raw.read_text().splitlines()]
    wd = [r for r in records if r["method"] == "wd"]
    assert all(r["scores"]["steps_to_generalize"] == "inf" for r in wd)  # the store's runs
    wd[0]["scores"]["steps_to_generalize"] = 3
    for r in records:  # raw results written before they kept a compact curve: curves from the store
        r.pop("curve", None)
    raw.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--from", str(raw), "--format",
                       "html", "--out-dir", str(tmp_path))
    assert code == 0, err
    page = (tmp_path / "tiny.html").read_text(encoding="utf-8")
    warning = re.search(r'<p class="warn">(.*?)</p>', page, re.S).group(1)
    assert "⚠ The curves below come from the results store" in warning
    assert ("wd: the curves&#x27; runs: 0/3 solved, median ∞ steps; the table: 1/3 solved, "
            "median ∞ steps") in warning
    assert "baseline" not in warning  # its runs agree: not marked
    assert "⚠ wd, NOT the table" in page  # the legend entry of the marked curve
    assert page.count('<p class="warn">') == 1
    # the same page from the store's own results has no mark
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--format", "html", "--out-dir",
               str(tmp_path / "store"))[0] == 0
    assert '<p class="warn">' not in (tmp_path / "store" / "tiny.html").read_text(encoding="utf-8")


def test_the_page_palette_is_okabe_ito_with_a_dash_each():
    okabe_ito = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                 "#CC79A7", "#999999"}
    assert set(PAGE_COLORS) == okabe_ito and len(PAGE_COLORS) == 9
    # the first six (the quick suite's methods) hold neither sky blue next to blue nor yellow
    assert not {"#56B4E9", "#F0E442"} & set(PAGE_COLORS[:6])
    assert len(set(DASHES)) == 6
