"""Figures: what each one draws (read back from the matplotlib figure) and the PNGs the
`grokbench plot` command writes from a real store and a raw results file."""
import math
import subprocess
import sys

import pytest

from grokbench import leaderboard as lb
from grokbench import plot, records


@pytest.fixture(scope="module")
def runs():
    """Real 40-step runs on modadd p = 11: baseline and wd, seeds 0 and 1."""
    from grokbench.config import resolve
    from grokbench.engine import run
    from grokbench.registry import get_registry
    reg = get_registry()
    return [run(resolve(reg, "modadd", m, {"p": 11, "steps": 40, "eval_every": 10, "seed": s,
                                           "threads": 1}), progress=False)
            for m in ("baseline", "wd") for s in (0, 1)]


def png_size(path):
    import matplotlib.image
    image = matplotlib.image.imread(path)
    assert image.std() > 0.05  # not a blank canvas
    return image.shape[1], image.shape[0]


def test_run_figure_draws_the_curve_and_marks(runs, tmp_path):
    result = dict(runs[0])
    # mark known steps so the vertical lines can be checked
    result["scores"] = {**result["scores"], "steps_to_fit": 20, "steps_to_generalize": 30}
    fig = plot.draw_run(result)
    top, bottom, twin = fig.axes
    assert bottom.get_xscale() == "log"
    evals = [r for r in result["curve"] if "train_acc" in r and r["step"] > 0]
    train, test = top.lines[0], top.lines[1]
    assert list(train.get_xdata()) == [r["step"] for r in evals]
    assert list(test.get_ydata()) == [r["test_acc"] for r in evals]
    marks = sorted(line.get_xdata()[0] for line in top.lines[2:] if line.get_xdata()[0] == line.get_xdata()[1])
    assert marks == [20, 30]
    assert "SC" in bottom.get_ylabel() and "weight norm" in twin.get_ylabel()
    assert list(twin.lines[0].get_ydata()) == [r["weight_norm"] for r in evals]
    w, h = png_size(plot.run_figure(result, tmp_path / "run.png"))
    assert w > 600 and h > 500


def test_compare_figure_draws_median_over_seeds(runs, tmp_path):
    groups = lb.label_runs(runs)["modadd"]
    fig = plot.draw_compare(groups, "modadd")
    ax = fig.axes[0]
    solid = ax.lines[0]  # baseline's median test accuracy
    by_seed = [{r["step"]: r["test_acc"] for r in run["curve"] if "train_acc" in r}
               for run in groups["baseline"]]
    steps = list(solid.get_xdata())
    assert steps == sorted(s for s in by_seed[0] if s > 0)
    # with two seeds the median is their mean
    assert list(solid.get_ydata()) == pytest.approx([(by_seed[0][s] + by_seed[1][s]) / 2 for s in steps])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("baseline: ") and "/2 solved" in labels[0]
    png_size(plot.compare_figure(groups, "modadd", tmp_path / "cmp.png"))


def test_profile_figure_steps_at_the_ratios(tmp_path):
    from test_leaderboard import two_task_records
    board = lb.build(two_task_records(), "t")
    fig = plot.draw_profiles(board)
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((1, 4))
    lines = {line.get_label().split(" (")[0]: line for line in ax.lines}
    wd = lines["wd"]
    # wd's ratios are 5/3 and 10/3: ρ is 0 at τ = 1, 0.5 from 5/3, 1 from 10/3 (plus a tiny offset)
    xs, ys = list(wd.get_xdata()), [round(y, 1) for y in wd.get_ydata()]
    assert xs == pytest.approx([1, 5 / 3, 10 / 3, 4]) and ys == [0, 0.5, 1, 1]
    assert "B = 0.50" in wd.get_label()
    png_size(plot.profile_figure(board, tmp_path / "p.png"))


def test_km_figure_steps_at_the_events_with_ticks_and_budget(tmp_path):
    """Task A of two_task_records (budget 3000): x generalizes at 50 and 60 and misses once,
    so its step goes 0 → 1/3 at 50 → 2/3 at 60 and holds to the budget, where its censored run
    is a tick; wd reaches 1 at 300 with no tick; the budget is the dashed line at 3000."""
    from test_leaderboard import two_task_records
    board = lb.build(two_task_records(), "t")
    fig = plot.draw_km(board)
    ax = fig.axes[0]
    assert ax.get_title() == "A (budget 3000)"
    steps = [line for line in ax.lines if line.get_linestyle() != "None" and len(line.get_xdata()) > 2]
    x = next(line for line, row in zip(steps, board["tasks"][0]["rows"]) if row["method"] == "x")
    assert list(x.get_xdata()) == [25, 50, 60, 3000]  # from half the first event (50)
    assert list(x.get_ydata()) == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3], abs=0.01)  # ± an offset
    ticks = [line for line in ax.lines if line.get_marker() == "|"]
    assert [list(t.get_xdata()) for t in ticks] == [[3000], [3000, 3000]]  # x's miss; y's two
    assert [list(t.get_ydata()) for t in ticks] == [pytest.approx([2 / 3], abs=0.01),
                                                    pytest.approx([1 / 3] * 2, abs=0.01)]
    assert [line for line in ax.lines if line.get_linestyle() == "--"
            and list(line.get_xdata()) == [3000, 3000]]  # the budget
    assert len([a for a in fig.axes if a.get_visible()]) == 2  # a panel per task
    png_size(plot.km_figure(board, tmp_path / "km.png"))


def test_plot_command_writes_pngs(runs, tmp_path):
    from grokbench.store import Store
    db = tmp_path / "runs.db"
    store = Store(db)
    for r in runs:
        store.save(r)
    store.close()
    raw = tmp_path / "demo.results.jsonl"
    raw.write_text(records.records_jsonl([records.to_record(r) for r in runs]))
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "demo.toml").write_text('tasks = ["modadd"]\nmethods = ["baseline", "wd"]\nseeds = [0, 1]\n'
                                      '[settings]\np = 11\nsteps = 40\neval_every = 10\n')
    env = {**__import__("os").environ, "GROKBENCH_SUITES_DIR": str(suites)}
    calls = [
        ["plot", runs[1]["run_id"][:8], "--store", str(db), "-o", str(tmp_path / "one.png")],
        # wd+wd is another spelling of wd: the runs are found under the canonical name
        ["plot", "--task", "modadd", "--method", "baseline", "--method", "wd+wd", "--store", str(db),
         "-o", str(tmp_path / "two.png")],
        ["plot", "--suite", "demo", "--from", str(raw), "-o", str(tmp_path / "three.png")],
        # the same suite's profiles from the store's runs
        ["plot", "--suite", "demo", "--store", str(db), "-o", str(tmp_path / "four.png")],
    ]
    script = ("import sys; from grokbench.cli import main\n"
              f"for args in {calls!r}:\n    sys.argv = ['grokbench', *args]\n"
              "    try:\n        main()\n    except SystemExit as e:\n        assert not e.code, e.code\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("one.png", "two.png", "three.png", "four.png"):
        assert png_size(tmp_path / name)[0] > 500
    bad = subprocess.run([sys.executable, "-m", "grokbench", "plot", "--task", "modadd",
                          "--method", "nosuch", "--store", str(db)], capture_output=True, text=True)
    assert bad.returncode == 2 and "no stored runs of nosuch" in bad.stderr


def test_step_zero_is_left_off_the_log_axis(runs):
    result = runs[0]
    fig = plot.draw_run(result)
    assert min(fig.axes[0].lines[0].get_xdata()) == 1 and not math.isnan(fig.axes[0].lines[0].get_ydata()[0])
