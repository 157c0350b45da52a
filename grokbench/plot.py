"""Figures (matplotlib, Agg backend, PNG): the classic grokking figure of one run, a comparison
of methods on one task (median and spread over seeds), and the performance profiles ρ(τ) of a
leaderboard."""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from .stats import median, quantile

# Okabe–Ito: distinguishable for colour-blind readers and in greyscale print.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 3))]
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _pyplot():
    import matplotlib
    # Files need no display: Agg, the same output everywhere. Unless this process has chosen a
    # backend already (a notebook's inline one, through MPLBACKEND or an earlier pyplot
    # import): switching it would stop the notebook's own figures from showing.
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _evals(curve):
    # A log axis cannot show step 0 (the initial evaluation); every later one is drawn.
    return [r for r in curve if "train_acc" in r and r["step"] > 0]


def _mark(ax, step, text, color, height=0.5):
    if step is None or (isinstance(step, float) and math.isinf(step)) or step <= 0:
        return
    ax.axvline(step, color=color, ls=":", lw=1.2)
    ax.annotate(f"{text}\n{int(step)}", (step, height), xycoords=("data", "axes fraction"),
                xytext=(3, 0), textcoords="offset points", fontsize=8, color=color, va="center")


def run_figure(result: dict, path) -> Path:
    """Train and test accuracy against steps (log axis) with steps-to-fit and steps-to-generalize
    marked; below, SC fraction and weight norm on twin axes."""
    return _save(draw_run(result), path)


def draw_run(result: dict):
    plt = _pyplot()
    cfg, s = result["config"], result["scores"]
    ev = _evals(result["curve"])
    steps = [r["step"] for r in ev]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2], "hspace": 0.08})
    top.plot(steps, [r["train_acc"] for r in ev], color=COLORS[0], lw=1.8, label="train")
    top.plot(steps, [r["test_acc"] for r in ev], color=COLORS[1], lw=1.8, label="test")
    top.axhline(cfg["target"], color="grey", lw=0.8, ls="--",
                label=f"target: {cfg['target_metric']} ≥ {cfg['target']:g}")
    top.set_ylim(-0.03, 1.03)
    top.set_ylabel("accuracy")
    top.legend(loc="center left", frameon=False, fontsize=9)
    _mark(top, s.get("steps_to_fit"), f"fit (train ≥ {cfg['fit_target']:g})", COLORS[0], 0.62)
    _mark(top, s.get("steps_to_generalize"), "generalize", COLORS[1], 0.38)
    gen = s.get("steps_to_generalize")
    note = (f"{cfg['target_metric']} never reached {cfg['target']:g} within {cfg['steps']} steps"
            if gen is None or math.isinf(gen) else "")
    top.set_title(f"{cfg['task']} / {cfg['method']}  (seed {cfg['seed']}, {cfg['dtype']}, "
                  f"run {result['run_id'][:8]})" + (f"\n{note}" if note else ""), fontsize=10)

    sc = [(r["step"], r["sc_fraction"]) for r in ev if r.get("sc_fraction") is not None]
    if sc:
        bottom.plot(*zip(*sc), color=COLORS[3], lw=1.6, label="SC fraction")
        bottom.axhline(s["sc_threshold"], color=COLORS[3], lw=0.8, ls="--")
        bottom.set_ylim(-0.03, 1.03)
        bottom.set_ylabel("Softmax Collapse (SC) fraction", color=COLORS[3])
        _mark(bottom, s.get("collapse_onset"), f"SC ≥ {s['sc_threshold']:g}", COLORS[3])
    else:
        bottom.set_yticks([])
        bottom.set_ylabel("(no SC: not classification)")
    twin = bottom.twinx()
    twin.plot(steps, [r.get("weight_norm") for r in ev], color=COLORS[2], lw=1.6)
    twin.set_ylabel("weight norm ‖θ‖", color=COLORS[2])
    bottom.set_xscale("log")
    bottom.set_xlabel("training step")
    for ax in (top, bottom):
        ax.grid(alpha=0.25, which="major")
    return fig


def _aligned(runs, key):
    """Steps every run evaluated at (seeds of one config share the schedule; a run stopped by
    NaN/inf is shorter), and the values of ``key`` there, one row per run."""
    steps = sorted(set.intersection(*({r["step"] for r in _evals(run["curve"])} for run in runs)))
    table = []
    for run in runs:
        by_step = {r["step"]: r.get(key) for r in _evals(run["curve"])}
        table.append([by_step[s] for s in steps])
    return steps, table


def _quantiles(column):
    xs = sorted(v for v in column if v is not None and not math.isnan(v))
    if not xs:
        return None, None, None
    return quantile(xs, 0.5), xs[0], xs[-1]


def compare_figure(groups: dict, task: str, path) -> Path:
    """Test accuracy (solid) and train accuracy (thin, dashed) of each method: the median over
    seeds, shaded between the lowest and highest seed; the median steps-to-generalize marked."""
    return _save(draw_compare(groups, task), path)


def draw_compare(groups: dict, task: str):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (label, runs) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        steps, test = _aligned(runs, "test_acc")
        _, train = _aligned(runs, "train_acc")
        if not steps:
            continue
        test_q = [_quantiles(col) for col in zip(*test)]
        train_med = [_quantiles(col)[0] for col in zip(*train)]
        gen = median([r["scores"]["steps_to_generalize"] for r in runs])
        solved = sum(math.isfinite(r["scores"]["steps_to_generalize"]) for r in runs)
        name = (f"{label}: {solved}/{len(runs)} solved, median "
                + ("∞" if math.isinf(gen) else f"{gen:g}") + " steps")
        ax.plot(steps, [q[0] for q in test_q], color=color, lw=2, label=name)
        ax.fill_between(steps, [q[1] for q in test_q], [q[2] for q in test_q], color=color,
                        alpha=0.18, lw=0)
        ax.plot(steps, train_med, color=color, lw=1, ls="--", alpha=0.8)
        if math.isfinite(gen) and gen > 0:
            ax.axvline(gen, color=color, lw=1, ls=":")
    cfg = next(iter(groups.values()))[0]["config"]
    ax.axhline(cfg["target"], color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy (solid: test, dashed: train)")
    seeds = sorted({r["config"]["seed"] for runs in groups.values() for r in runs})
    ax.set_title(f"{task}: median over seeds {', '.join(map(str, seeds))} "
                 f"(band: min–max over seeds)", fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(loc="center left", fontsize=8, frameon=False)
    return fig


def profile_figure(lb: dict, path) -> Path:
    """ρ(τ) of every method of a leaderboard on τ ∈ [1, r_max] (the scored range), as steps."""
    return _save(draw_profiles(lb), path)


def profile_steps(ratios: dict, r_max: float):
    """ρ(τ) of one method as a step function on [1, r_max]: the τ where it rises (each task's
    ratio in range) and ρ from there on; ``ratios``: {task: median / best median}."""
    values = sorted(ratios.values())
    taus = [1.0] + [r for r in values if 1.0 <= r <= r_max] + [r_max]
    return taus, [sum(x <= t for x in values) / len(values) for t in taus]


def draw_profiles(lb: dict):
    plt = _pyplot()
    overall = lb["overall"]
    r_max = overall["r_max"]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    n_rows = len(overall["rows"])
    for i, row in enumerate(overall["rows"]):
        taus, values = profile_steps(row["ratios"], r_max)
        # Methods with identical profiles would hide each other: shift each a little vertically
        # and give each its own dash pattern.
        offset = (i - (n_rows - 1) / 2) * 0.012
        ax.step(taus, [v + offset for v in values], where="post", lw=2,
                ls=LINESTYLES[i % len(LINESTYLES)], color=COLORS[i % len(COLORS)],
                label=f"{row['method']} (B = {row['score']:.2f})")
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 1.5, 2, 3, 4] if r_max == 4 else [1, r_max])
    ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xlim(1, r_max)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("τ (within τ × the best method's median steps-to-generalize)")
    ax.set_ylabel("ρ(τ): fraction of tasks")
    ax.set_title(f"Performance profiles, suite {lb['name']} ({len(lb['tasks'])} tasks)",
                 fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False,
              title="method (score B)", title_fontsize=8)
    ax.text(1.01, 0.02, "equal curves are\ndrawn slightly apart", transform=ax.transAxes,
            fontsize=7, color="grey")
    return fig
