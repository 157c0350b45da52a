"""Scores of one run (docs/science.md, "Scores"): first crossing with its resolution; censored runs are ∞."""
import math

from grokbench.engine import eval_schedule
from grokbench.scoring import score

CONFIG = {"fit_target": 0.99, "target_metric": "test_acc", "target": 0.95, "sc_threshold": 0.1}


def curve(rows):
    return [dict(zip(("step", "train_acc", "test_acc", "sc_fraction"), r)) for r in rows]


def test_first_crossings_and_delay():
    c = curve([(0, 0.0, 0.0, 0.0), (100, 0.5, 0.0, 0.0), (200, 1.0, 0.1, 0.05),
               (300, 1.0, 0.5, 0.2), (400, 1.0, 0.96, 0.0)])
    s = score(c, CONFIG)
    assert (s["steps_to_fit"], s["steps_to_fit_resolution"]) == (200, 100)
    assert s["steps_to_generalize"] == 400 and s["grokking_delay"] == 200
    assert s["collapse_onset"] == 300 and s["max_sc"] == 0.2
    assert s["final_test_acc"] == 0.96 and s["steps_run"] == 400


def test_censored_run_scores_infinity_not_the_budget():
    c = curve([(0, 0.0, 0.0, 0.0), (5000, 1.0, 0.08, 0.05)])
    s = score(c, CONFIG)
    assert s["steps_to_fit"] == 5000
    assert math.isinf(s["steps_to_generalize"]) and s["steps_to_generalize_resolution"] is None
    assert math.isinf(s["grokking_delay"])
    assert math.isinf(s["collapse_onset"]) and s["max_sc"] == 0.05


def test_threshold_is_inclusive_and_configurable():
    c = curve([(0, 0.99, 0.95, 0.4)])
    s = score(c, dict(CONFIG, sc_threshold=0.5))
    assert s["steps_to_fit"] == 0 and s["steps_to_generalize"] == 0
    assert math.isinf(s["collapse_onset"]) and s["sc_threshold"] == 0.5


def test_nonfinite_run_is_flagged():
    c = curve([(0, 0.0, 0.0, 0.0)]) + [{"step": 7, "train_loss": float("nan"), "nonfinite": True}]
    s = score(c, CONFIG, status="nonfinite")
    assert s["nonfinite"] and s["steps_run"] == 7 and math.isinf(s["steps_to_generalize"])


def test_eval_schedule_dense_early_then_regular():
    sched = eval_schedule(1000, 100)
    assert sched[:11] == list(range(11))
    assert [s for s in sched if 10 < s < 100] == [13, 16, 20, 25, 32, 40, 50, 63, 79]
    assert sched[-10:] == list(range(100, 1001, 100))
    assert eval_schedule(25, 100)[-1] == 25
    assert eval_schedule(1000, 200, per_decade=3) == [0, 1, 2, 5, 10, 22, 46, 100, 200, 400, 600,
                                                      800, 1000]


def test_scores_are_read_up_to_the_decision_point():
    """Fit at 100, target from 200, held for 3 evaluations at 400: what comes after (a later
    collapse, a drop in test accuracy) is in the curve but not in the scores."""
    config = {"fit_target": 0.99, "target_metric": "test_acc", "target": 0.95,
              "sc_threshold": 0.1, "hold_evals": 3}
    rows = [(0, 0.1, 0.0, 0.0), (100, 1.0, 0.3, 0.0), (200, 1.0, 0.96, 0.0), (300, 1.0, 0.94, 0.0),
            (400, 1.0, 0.97, 0.0), (500, 1.0, 0.98, 0.0), (600, 1.0, 0.99, 0.05), (700, 1.0, 0.5, 0.9)]
    curve = [dict(zip(("step", "train_acc", "test_acc", "sc_fraction"), r)) for r in rows]
    s = score(curve, config)
    assert s["steps_to_generalize"] == 200 and s["decided_at"] == 600
    assert math.isinf(s["collapse_onset"]) and s["max_sc"] == 0.05
    assert s["final_test_acc"] == 0.99 and s["steps_run"] == 700
    undecided = score(curve[:5], config)
    assert undecided["decided_at"] is None and undecided["final_test_acc"] == 0.97
