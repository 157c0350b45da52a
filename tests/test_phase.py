"""grokbench phase (the bundled `phase` plugin's command): the classification rule on hand
scores, the axes, and a real diagram from real stored runs, resumable."""
import math
import os
import subprocess
import sys

import pytest

from grokbench_plugins.phase import classify, parse_axis

INF = math.inf


@pytest.mark.parametrize("scores, status, phase", [
    ({"steps_to_fit": 100, "steps_to_generalize": 150}, "finished", "comprehension"),
    ({"steps_to_fit": 100, "steps_to_generalize": 199}, "finished", "comprehension"),
    ({"steps_to_fit": 100, "steps_to_generalize": 200}, "finished", "grokking"),
    ({"steps_to_fit": 50, "steps_to_generalize": 5000}, "stopped_early", "grokking"),
    ({"steps_to_fit": 50, "steps_to_generalize": INF}, "finished", "memorization"),
    ({"steps_to_fit": INF, "steps_to_generalize": INF}, "finished", "confusion"),
    ({"steps_to_fit": INF, "steps_to_generalize": 300}, "finished", "comprehension"),
    ({"steps_to_fit": 20, "steps_to_generalize": INF, "nonfinite": True}, "nonfinite", "diverged"),
])
def test_the_phase_rule(scores, status, phase):
    assert classify(scores, status) == phase


def test_axes_are_log_spaced_or_listed():
    assert parse_axis("lr=1e-4:1e-1:4", "--x") == ("lr", [1e-4, 1e-3, 1e-2, 1e-1])
    assert parse_axis("weight-decay=0,0.5", "--y") == ("weight_decay", [0.0, 0.5])
    from grokbench import UserError
    for bad in ("lr", "lr=", "lr=1:0.1:3", "lr=1e-3:1e-1:1", "lr=nan,1"):
        with pytest.raises(UserError, match="--x"):
            parse_axis(bad, "--x")


def cli(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "grokbench", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_a_diagram_from_real_runs_resumes_and_draws_png_and_html(tmp_path):
    """2 × 2 points of tiny modadd runs: each phase is what the stored scores give by the rule;
    a second call trains nothing; --format html names the same phases."""
    from grokbench.store import Store
    args = ("phase", "--task", "modadd", "--x", "lr=0.001,0.05", "--y", "weight_decay=0,1",
            "--set", "p=11", "--set", "steps=40", "--set", "eval_every=10",
            "--store", str(tmp_path / "p.db"))
    first = cli(*args, "-o", "d.png", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "(4 runs trained, 0 read from the store)" in first.stdout
    assert (tmp_path / "d.png").stat().st_size > 1000
    db = Store(tmp_path / "p.db")
    try:
        phases = sorted(classify(r["scores"], r["status"]) for r in db.results())
    finally:
        db.close()
    again = cli(*args, "--format", "html", "-o", "d.html", cwd=tmp_path)
    assert "(0 runs trained, 4 read from the store)" in again.stdout, again.stderr
    page = (tmp_path / "d.html").read_text()
    assert sorted(p for p in ("comprehension", "grokking", "memorization", "confusion", "diverged")
                  for _ in range(page.count(f'<td class="{p}"'))) == phases


def test_bad_axes_are_one_line(tmp_path):
    out = cli("phase", "--task", "modadd", "--x", "lr=1:0:3", "--y", "weight_decay=0,1",
              cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--x" in out.stderr
