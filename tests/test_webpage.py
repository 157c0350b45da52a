"""The leaderboard web page (``grokbench leaderboard --format html``): the seed band against hand
computations; the page built from a real store and from raw results (curves or a note saying
why none), byte for byte reproducible and self-contained; ``--check`` finding a stale page; and
the committed quick page in a real headless Chromium: no console errors, the tables' rows, the
plots drawn, sorting by a click, and a screenshot."""
import importlib.util
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from grokbench import render
from grokbench.webpage import page_digest, seed_band, tables_digest

from test_leaderboard import cli, tiny_suite  # noqa: F401  (tiny_suite is a fixture)

ROOT = Path(__file__).resolve().parent.parent
QUICK_PAGE = ROOT / "leaderboards" / "quick.html"


def curve(accs, start=1):
    """Evaluations at steps start, start+1, ... with these test accuracies (and a step-0 one)."""
    rows = [{"step": 0, "train_acc": 0.0, "test_acc": 0.5}]
    return rows + [{"step": start + i, "train_acc": 1.0, "test_acc": a} for i, a in enumerate(accs)]


def test_seed_band_hand_computed():
    runs = [
        {"status": "finished", "curve": curve([0.1, 0.2, 0.3, 0.4])},
        {"status": "stopped_early", "curve": curve([0.3, 0.9])},       # held at 0.9 after step 2
        {"status": "nonfinite", "curve": curve([0.2, 0.5, float("nan")])},  # NaN: not counted
    ]
    steps, med, low, high, n = seed_band(runs)
    assert steps == [1, 2, 3, 4]  # step 0 is left out (log axis)
    assert med == pytest.approx([0.2, 0.5, 0.6, 0.65]) and low == [0.1, 0.2, 0.3, 0.4] and high == [0.3, 0.9, 0.9, 0.9]
    assert n == [3, 3, 2, 2]


needs_plotly = pytest.mark.skipif(importlib.util.find_spec("plotly") is None,
                                  reason="the web page needs plotly: pip install 'grokbench[html]'")


@needs_plotly
def test_page_from_store_and_from_raw_results(tiny_suite, tmp_path, capsys, monkeypatch):  # noqa: F811
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--format", "html")
    assert code == 0, err
    assert out == "" and "tiny.html" in err  # written, not printed
    page = (suites / "tiny.html").read_text(encoding="utf-8")
    # The same inputs give the same bytes: no timestamps, no random element ids.
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--format", "html")[0] == 0
    assert (suites / "tiny.html").read_text(encoding="utf-8") == page
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", page)
    # Self-contained: plotly.js once, inline; nothing loaded from elsewhere.
    assert page.count("* plotly.js v") == 1
    assert not any("src=" in tag for tag in re.findall(r"<script[^>]*>", page))
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"<link|(src|href)=", markup)
    # The tables are the committed JSON's (its digest), rendered with the Markdown's cells.
    lb = render.read_json((suites / "tiny.json").read_text(encoding="utf-8"))
    assert page_digest(page) == tables_digest(lb)
    for row in lb["tasks"][0]["rows"]:
        assert f'<td data-sort="{row["method"]}">{row["method"]}</td>' in page
    assert 'id="curves-modadd"' in page and 'id="profiles"' in page and 'id="km-modadd"' in page
    assert "Curves of 6 of the 6 runs, read from the results store" in page
    assert "grokbench leaderboard --suite tiny --format html" in page  # how to regenerate it
    assert 'steps = 5' in page  # the suite's configuration

    # --check: a page that no longer shows the committed tables is found
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--check")[0] == 0
    page = suites / "tiny.html"
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace(page_digest(text), "0" * 64), encoding="utf-8")
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--check")
    assert code == 1 and "tiny.html does not show the tables of tiny.json" in err
    # ... and so is a cell edited under the right digest: the tables are compared, not only it
    method = lb["tasks"][0]["rows"][0]["method"]
    page.write_text(text.replace(f'">{method}</td>', '">edited</td>', 1), encoding="utf-8")
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--check")
    assert code == 1 and "tiny.html does not show the committed table-overall of tiny.json" in err

    # Built from raw results, which keep compact curves, the curves need no store...
    raw = suites / "tiny.results.jsonl"
    monkeypatch.setenv("GROKBENCH_STORE", str(tmp_path / "absent.db"))
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--from", str(raw), "--format",
                       "html", "--out-dir", str(tmp_path / "c"))
    assert code == 0, err
    page = (tmp_path / "c" / "tiny.html").read_text(encoding="utf-8")
    assert 'id="curves-modadd"' in page and f"read from the raw results {raw}" in page
    # ... raw results written before they kept curves take them from the store by run id...
    import json
    old = tmp_path / "old.results.jsonl"
    old.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "curve"}) + "\n"
                           for line in raw.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    raw = str(old)
    monkeypatch.setenv("GROKBENCH_STORE", str(suites.parent / "runs.db"))
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--from", raw, "--format", "html",
                       "--out-dir", str(tmp_path / "a"))
    assert code == 0, err
    page = (tmp_path / "a" / "tiny.html").read_text(encoding="utf-8")
    assert "6 of them score exactly as in the raw results" in page
    # ... or, with no store, the page says why there are none and how to get them.
    monkeypatch.setenv("GROKBENCH_STORE", str(tmp_path / "absent.db"))
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--from", raw, "--format", "html",
                       "--out-dir", str(tmp_path / "b"))
    assert code == 0, err
    page = (tmp_path / "b" / "tiny.html").read_text(encoding="utf-8")
    assert "Test-accuracy curves are not shown" in page and "grokbench sweep --suite tiny" in page
    assert 'id="curves-modadd"' not in page and 'id="profiles"' in page
    assert 'id="km-modadd"' in page  # Kaplan–Meier needs no curves, only the scores
    assert not (tmp_path / "absent.db").exists()  # looking for curves creates no store


def test_missing_plotly_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if not installed: import fails
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    code, out, err = cli(capsys, "leaderboard", "--suite", "quick", "--from",
                         str(ROOT / "leaderboards" / "quick.results.jsonl"), "--format", "html",
                         "--out-dir", str(tmp_path))
    assert code == 2 and "pip install 'grokbench[html]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


# -- in a real browser ------------------------------------------------------------------------

def _browser():
    """Headless Chromium under chromedriver, both from the system's packages (Debian:
    chromium, chromium-driver); selenium is told where they are, so it never downloads one."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install 'grokbench[browser-test]'")
    from selenium.webdriver.chrome.service import Service
    chrome = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        pytest.skip("no Chromium and chromedriver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def _column(browser, table_id, col):
    from selenium.webdriver.common.by import By
    return [tr.find_elements(By.TAG_NAME, "td")[col].text
            for tr in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def _steps(text):
    return math.inf if text.startswith("∞") else float(text.split()[0])


def test_committed_quick_page_in_headless_chromium(tmp_path):
    if not QUICK_PAGE.exists():
        pytest.skip("leaderboards/quick.html not generated yet")
    browser = _browser()  # skips, naming the extra, without selenium or Chromium
    from selenium.webdriver.common.by import By
    try:
        started = time.monotonic()
        browser.get(QUICK_PAGE.as_uri())
        lb = render.read_json((ROOT / "leaderboards" / "quick.json").read_text(encoding="utf-8"))
        # plotly draws after the scripts ran; wait (briefly) for every figure's SVG traces
        plots = []
        while time.monotonic() - started < 60:  # generous: CI machines may be loaded
            plots = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")
            if len(plots) == 1 + 2 * len(lb["tasks"]) and all(
                    p.find_elements(By.CSS_SELECTOR, "svg.main-svg g.trace") for p in plots):
                break
            time.sleep(0.2)
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        state = browser.execute_script("return [document.readyState, typeof Plotly]")
        # the profiles, and per task its Kaplan–Meier and curve figures
        assert len(plots) == 1 + 2 * len(lb["tasks"]), f"page state {state}, log {browser.get_log('browser')}"
        for plot in plots:
            assert len(plot.find_elements(By.CSS_SELECTOR, "svg.main-svg g.trace.scatter path.js-line")) >= 3
        # the tables: every method of the JSON, in its order
        assert _column(browser, "table-overall", 1) == [r["method"] for r in lb["overall"]["rows"]]
        for table in lb["tasks"]:
            assert _column(browser, f"table-{table['task']}", 1) == [r["method"] for r in table["rows"]]

        # Sorting: a click sorts by that column, a second click reverses it; ∞ sorts after numbers.
        task = lb["tasks"][0]["task"]
        header = browser.find_elements(By.CSS_SELECTOR, f"#table-{task} thead th button")
        header[1].click()
        assert _column(browser, f"table-{task}", 1) == sorted(r["method"] for r in lb["tasks"][0]["rows"])
        header[3].click()
        steps = [_steps(t) for t in _column(browser, f"table-{task}", 3)]
        assert steps == sorted(steps) and math.isinf(steps[-1])
        header[3].click()
        assert [_steps(t) for t in _column(browser, f"table-{task}", 3)] == sorted(steps, reverse=True)
        header[0].click()  # back to rank order for the screenshot
        assert _column(browser, f"table-{task}", 1) == [r["method"] for r in lb["tasks"][0]["rows"]]

        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1300, height + 50)
        browser.execute_script("window.scrollTo(0, 0)")
        shot = Path(os.environ.get("GROKBENCH_SCREENSHOT", tmp_path / "quick.png"))
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        browser.quit()

