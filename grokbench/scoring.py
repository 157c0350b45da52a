"""Scores of one run, read from its curve alone, so re-scoring never retrains.

A run that never reaches a target within its budget is censored: its step count is ∞, never
the budget. Every step count comes with its resolution: the gap to the evaluation before it.

Scores are read up to the run's *decision point*: the evaluation at which it has fit its
training set, reached its target and held the target for ``hold_evals`` consecutive
evaluations (the last evaluation, for a run that never gets there). What the curve does after
that is kept in the curve but is not scored, so a run stopped early at its decision point
(``early_stop``) scores exactly as the same run trained to the end (docs/science.md, "Scores").
"""
from __future__ import annotations

import math

INF = math.inf


def first_step(curve, key, threshold):
    """(step, resolution) of the first evaluation with curve[key] >= threshold, else (∞, None)."""
    prev = None
    for rec in curve:
        value = rec.get(key)
        if value is not None and not _isnan(value) and value >= threshold:
            return rec["step"], (rec["step"] - prev if prev is not None else 0)
        prev = rec["step"]
    return INF, None


def decision_index(evals, config):
    """Index of the decision point in ``evals``, or None while the run has not reached it."""
    fitted, held = False, 0
    hold = max(1, int(config.get("hold_evals", 3)))
    for i, rec in enumerate(evals):
        fitted = fitted or _reached(rec.get("train_acc"), config["fit_target"])
        held = held + 1 if _reached(rec.get(config["target_metric"]), config["target"]) else 0
        if fitted and held >= hold:
            return i
    return None


def _reached(value, threshold):
    return not _isnan(value) and value >= threshold


def score(curve, config, status="finished", timing=None) -> dict:
    full = [r for r in curve if "train_acc" in r]
    decided = decision_index(full, config)
    evals = full if decided is None else full[:decided + 1]
    fit, fit_res = first_step(evals, "train_acc", config["fit_target"])
    gen, gen_res = first_step(evals, config["target_metric"], config["target"])
    onset, onset_res = first_step(evals, "sc_fraction", config["sc_threshold"])
    sc_values = [r["sc_fraction"] for r in evals if not _isnan(r.get("sc_fraction"))]
    last = evals[-1] if evals else {}
    timing = timing or {}
    return {
        "steps_to_fit": fit, "steps_to_fit_resolution": fit_res,
        "steps_to_generalize": gen, "steps_to_generalize_resolution": gen_res,
        # delay is only defined once both happened; ∞ when generalization never came
        "grokking_delay": (gen - fit) if gen < INF and fit < INF else INF,
        "collapse_onset": onset, "collapse_onset_resolution": onset_res,
        "sc_threshold": config["sc_threshold"],
        "max_sc": max(sc_values) if sc_values else None,
        "final_train_acc": last.get("train_acc"),
        "final_test_acc": last.get("test_acc"),
        "best_test_acc": max((r["test_acc"] for r in evals), default=None),
        "weight_norm": last.get("weight_norm"),
        "nlm_cosine": last.get("nlm_cosine"),
        "nonfinite": status == "nonfinite",
        # the step whose evaluation the scores above were read at; steps_run may be later
        "decided_at": last.get("step") if decided is not None else None,
        "steps_run": curve[-1]["step"] if curve else 0,
        "wall_time": timing.get("wall_time"),
        "cpu_time": timing.get("cpu_time"),
        "steps_per_s": timing.get("steps_per_s"),
    }


def _isnan(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def to_jsonable(obj):
    """Strict JSON: ∞ becomes the string "inf" (read back by :func:`from_jsonable`), NaN null."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


def from_jsonable(obj):
    if isinstance(obj, str) and obj in ("inf", "-inf", "Infinity", "-Infinity"):
        return INF if not obj.startswith("-") else -INF
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj
