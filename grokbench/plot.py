"""Figures (matplotlib, Agg backend, PNG): the classic grokking figure of one run, a comparison
of methods on one task (median and spread over seeds), and the performance profiles ρ(τ) of a
leaderboard."""
from __future__ import annotations

import math
import os
import sys
import textwrap
from pathlib import Path

from .data import atomic_write_bytes
from .errors import UserError
from .landscape import by_size, w_c
from .stats import median, quantile

# Okabe–Ito: distinguishable for colour-blind readers and in greyscale print.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 3))]
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
          "#999999"]  # and grey: nine methods, nine colours


def _pyplot():
    # matplotlib is imported here, not at the top: it adds ~60 ms (pyplot ~230 ms) to every
    # command, `grokbench --help` included (README, "Code layout")
    import matplotlib
    # Files need no display: Agg, the same output everywhere. Unless this process has chosen a
    # backend already (a notebook's inline one, through MPLBACKEND or an earlier pyplot
    # import): switching it would stop the notebook's own figures from showing.
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # measured cost, as above
    return plt


def _save(fig, path):
    # Through the atomic writer: a symlink is written through and a FIFO or device refused,
    # never replaced or blocked on; the format is the file name's (PNG when it has none).
    path = Path(path)
    kind = path.suffix.lstrip(".").lower() or "png"
    try:
        atomic_write_bytes(path, lambda fh: fig.savefig(fh, format=kind, dpi=130,
                                                        bbox_inches="tight"))
    finally:
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


def compare_figure(groups: dict, task: str, path, metric: str | None = None) -> Path:
    """Test accuracy (solid) and train accuracy (thin, dashed) of each method: the median over
    seeds, shaded between the lowest and highest seed; the median steps-to-generalize marked.
    With ``metric`` (any key the curves record, e.g. ``fourier_top5_energy``), a second panel
    draws it the same way on the same steps, so its change can be read against the jump."""
    return _save(draw_compare(groups, task, metric), path)


def draw_compare(groups: dict, task: str, metric: str | None = None):
    plt = _pyplot()
    if metric:
        fig, (ax, low) = plt.subplots(2, 1, figsize=(7.5, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
        _draw_metric(low, groups, metric)
    else:
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


def _draw_metric(ax, groups: dict, metric: str):
    """The lower panel of draw_compare: ``metric``'s median over seeds, min–max shaded, and each
    method's median steps-to-generalize as a dotted line (as in the panel above)."""
    drawn = False
    for i, (label, runs) in enumerate(groups.items()):
        color = COLORS[i % len(COLORS)]
        steps, table = _aligned(runs, metric)
        q = [_quantiles(col) for col in zip(*table)]
        points = [(s, v) for s, v in zip(steps, q) if v[0] is not None]
        if not points:
            continue
        drawn = True
        ax.plot([s for s, _ in points], [v[0] for _, v in points], color=color, lw=2, label=label)
        ax.fill_between([s for s, _ in points], [v[1] for _, v in points],
                        [v[2] for _, v in points], color=color, alpha=0.18, lw=0)
        gen = median([r["scores"]["steps_to_generalize"] for r in runs])
        if math.isfinite(gen) and gen > 0:
            ax.axvline(gen, color=color, lw=1, ls=":")
    if not drawn:
        raise UserError(f"the runs' curves have no {metric!r}; the metrics recorded are listed "
                        "by `grokbench show RUN_ID` (e.g. fourier_top5_energy on modular tasks)")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.25)


def profile_figure(lb: dict, path) -> Path:
    """ρ(τ) of every method of a leaderboard on τ ∈ [1, r_max] (the scored range), as steps."""
    return _save(draw_profiles(lb), path)


def profile_steps(ratios: dict, r_max: float):
    """ρ(τ) of one method as a step function on [1, r_max]: the τ where it rises (each task's
    ratio in range) and ρ from there on; ``ratios``: {task: median / best median}."""
    values = sorted(ratios.values())
    if not values:  # no complete task yet (a suite built in pieces): a flat line at 0
        return [1.0, r_max], [0.0, 0.0]
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
                label=f"{row['method']} (B = {row['score']:.2f}"
                      + (f", {row['tasks']} of {len(lb['tasks'])} tasks)" if row.get("incomplete_tasks")
                         else ")"))
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


# -- Kaplan–Meier (leaderboard.add_survival) -------------------------------------------------------

def km_steps(row, tau):
    """One row's Kaplan–Meier estimate of P(generalized by step t) as a step function from 0 to
    τ: (steps, F, low, high), each value holding from its step to the next."""
    steps, values, lows, highs = [0.0], [0.0], [0.0], [0.0]
    for t, f, low, high in row.get("km") or []:
        if t <= tau:
            steps.append(t)
            values.append(f)
            lows.append(low)
            highs.append(high)
    steps.append(tau)
    return steps, values + [values[-1]], lows + [lows[-1]], highs + [highs[-1]]


def km_at(row, step) -> float:
    """P(generalized by ``step``) of a row's Kaplan–Meier estimate."""
    return max([f for t, f, _lo, _hi in row.get("km") or [] if t <= step] + [0.0])


def km_figure(lb: dict, path) -> Path:
    """A panel per task: each method's Kaplan–Meier estimate of P(generalized by step t) with
    its pointwise 95 % band, censored runs as ticks, the budget dashed."""
    return _save(draw_km(lb), path)


def draw_km(lb: dict):
    plt = _pyplot()
    tables = [t for t in lb["tasks"] if t["meta"].get("rmst_tau")]
    order = {r["method"]: i for i, r in enumerate(lb["overall"]["rows"])}
    cols = min(3, max(1, len(tables)))
    rows_n = max(1, math.ceil(len(tables) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.6 * cols, 3.3 * rows_n), squeeze=False)
    for ax in axes.flat[len(tables):]:
        ax.set_visible(False)
    handles: dict = {}
    for ax, table in zip(axes.flat, tables):
        tau = table["meta"]["rmst_tau"]
        firsts = [r["km"][0][0] for r in table["rows"] if r.get("km")]
        # from half the first event on (the log axis has room); no event: two decades
        left = max(min(firsts) / 2, 1.0) if firsts else max(tau / 100, 1.0)
        n = len(table["rows"])
        for j, row in enumerate(table["rows"]):
            i = order.get(row["method"], len(order) + j)
            color, style = COLORS[i % len(COLORS)], LINESTYLES[i % len(LINESTYLES)]
            offset = (j - (n - 1) / 2) * 0.008  # equal curves would hide each other
            steps, values, lows, highs = km_steps(row, tau)
            steps[0] = left
            line, = ax.step(steps, [v + offset for v in values], where="post", color=color, ls=style,
                            lw=1.6)
            ax.fill_between(steps, lows, highs, step="post", color=color, alpha=0.08, lw=0)
            censored = row.get("censored") or []
            if censored:
                ax.plot([t for t, _why in censored], [km_at(row, t) + offset for t, _why in censored],
                        ls="none", marker="|", ms=10, mew=2, color=color)
            handles.setdefault(row["method"], (i, line))
        ax.axvline(tau, color="grey", ls="--", lw=0.8, alpha=0.6)
        ax.set_xscale("log")
        ax.set_xlim(left, tau * 1.25)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{table['task']} (budget {tau:g})", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    for ax in axes[-1]:
        ax.set_xlabel("training step", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("P(generalized by step)", fontsize=8)
    ordered = sorted(handles.items(), key=lambda kv: kv[1][0])
    fig.legend([h for _m, (_i, h) in ordered], [m for m, _h in ordered], loc="lower center",
               ncol=min(len(ordered), 9), fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.01))
    title = (f"Kaplan–Meier estimates, suite {lb['name']}: P(generalized by step t) per method, "
             "95 % pointwise band (log(−log)); ticks: censored runs (budget or NaN/inf stop); "
             "dashed: the budget")
    fig.suptitle("\n".join(textwrap.wrap(title, 75 * cols)), fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    return fig


# -- reduced loss landscapes (grokbench landscape) -------------------------------------------------

def _positive(values):
    """Log axes cannot show 0 or a missing value: those are left out (NaN)."""
    return [v if v is not None and v > 0 and math.isfinite(v) else float("nan") for v in values]


def _log_ticks(ax, axis, lo, hi):
    """Ticks at 1, 2, 5 × 10^k inside [lo, hi] (1 × 10^k only when that gives 3 or more),
    written plainly (%g): matplotlib's own log ticks overlap on an axis under two decades."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # measured cost: _pyplot
    if not (lo > 0 and hi > lo):
        return
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ones = [10.0 ** k for k in range(k0, k1 + 1) if lo <= 10.0 ** k <= hi]
    ticks = ones if len(ones) >= 3 else [m * 10.0 ** k for k in range(k0, k1 + 1) for m in (1, 2, 5)
                                          if lo <= m * 10.0 ** k <= hi]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_locator(NullLocator())


def lu_figure(rows: list[dict], path) -> Path:
    """Omnigrok's "LU" plot (Liu et al. 2023 Fig. 1b, 2a, 3c): reduced train and test loss
    against the weight norm w, one panel per training-set size N, w_c (the least test loss)
    marked. Points whose run did not converge are hollow and not joined by the line."""
    return _save(draw_lu(rows), path)


def draw_lu(rows: list[dict]):
    plt = _pyplot()
    sizes = by_size(rows)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes) + 0.8, 4.3), sharey=True,
                             squeeze=False)
    size_key = next((r["size_key"] for r in rows if r.get("size_key")), None)
    for ax, (n, rs) in zip(axes[0], sizes.items()):
        for key, color, marker, label in (("train_loss", COLORS[0], "o", "train"),
                                          ("test_loss", COLORS[1], "s", "test")):
            ok = [r for r in rs if r["converged"]]
            ax.plot([r["w"] for r in ok], _positive([r[key] for r in ok]), color=color, lw=1.8,
                    marker=marker, ms=6, label=f"{label} loss")
            bad = [r for r in rs if not r["converged"]]
            if bad:
                ax.plot([r["w"] for r in bad], _positive([r[key] for r in bad]), ls="none",
                        marker=marker, ms=8, mfc="none", mec=color, mew=1.6)
            spread = [r for r in rs if len(r["seeds"]) > 1 and r[key + "_range"]]
            for r in spread:  # min–max over seeds
                ax.plot([r["w"], r["w"]], _positive(list(r[key + "_range"])), color=color, lw=0.8)
        best = w_c(rs)
        if best is not None:
            ax.axvline(best["w"], color=COLORS[2], ls=":", lw=1.4)
            ax.annotate(f"w_c = {best['w']:.3g}\n(α = {best['alpha']:.3g})", (best["w"], 0.97),
                        xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                        fontsize=8, color=COLORS[2], va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ws = [r["w"] for r in rs if r["w"]]
        ax.set_xlim(min(ws) / 1.25, max(ws) * 1.25)
        _log_ticks(ax, "x", min(ws) / 1.25, max(ws) * 1.25)
        ax.set_xlabel("weight norm w = α·w₀ (held fixed)")
        w0 = median([r["w0"] for r in rs if r.get("w0")] or [1.0])
        top = ax.secondary_xaxis("top", functions=(lambda w, w0=w0: w / w0, lambda a, w0=w0: a * w0))
        _log_ticks(top, "x", min(ws) / 1.25 / w0, max(ws) * 1.25 / w0)
        top.set_xlabel("α = w / w₀", fontsize=8)
        top.tick_params(labelsize=7)
        ax.set_title((f"{size_key} = {n}" if n is not None else rs[0]["task"]), fontsize=10)
        ax.grid(alpha=0.25, which="major")
    axes[0][0].set_ylabel("reduced loss (end of training)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if any(not r["converged"] for r in rows):
        from matplotlib.lines import Line2D  # measured cost: _pyplot
        handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="grey"))
        labels.append("hollow: not converged")
    axes[0][0].legend(handles, labels, loc="lower left", fontsize=8, frameon=False)
    steps = rows[0].get("steps")
    seeds = sorted({s for r in rows for s in r["seeds"]})
    fig.suptitle(f"{rows[0]['task']}: reduced loss landscape at constant weight norm (method norm, "
                 f"{steps} steps per point, seed{'s' if len(seeds) > 1 else ''} "
                 f"{', '.join(map(str, seeds))}" + (", median and range" if len(seeds) > 1 else "")
                 + ")", fontsize=10)
    fig.tight_layout()
    return fig


def _edges(values):
    """Cell edges around log-spaced centres: geometric midpoints, the ends mirrored."""
    v = sorted(values)
    if len(v) == 1:
        return [v[0] / 1.5, v[0] * 1.5]
    mids = [math.sqrt(a * b) for a, b in zip(v, v[1:])]
    return [v[0] ** 2 / mids[0]] + mids + [v[-1] ** 2 / mids[-1]]


def landscape_heatmaps(rows: list[dict], path) -> Path:
    """Reduced train and test error over (w, N), as Omnigrok Fig. 3a–b (MNIST), 4a–b, 5a–b:
    each cell one α × N point, its value written in it; cells whose run did not converge are
    hatched; w_c of each N (least test loss) starred."""
    return _save(draw_heatmaps(rows), path)


def draw_heatmaps(rows: list[dict]):
    from matplotlib.patches import Rectangle  # measured cost: _pyplot

    plt = _pyplot()
    sizes = by_size(rows)
    alphas = sorted({r["alpha"] for r in rows})
    w_of = {a: median([r["w"] for r in rows if r["alpha"] == a and r["w"]]) for a in alphas}
    ns = list(sizes)
    x_edges, y_edges = _edges([w_of[a] for a in alphas]), _edges(ns)
    size_key = next((r["size_key"] for r in rows if r.get("size_key")), "N")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, key, title in ((axes[0], "train_err", "reduced train error"),
                           (axes[1], "test_err", "reduced test error")):
        grid = [[float("nan")] * len(alphas) for _ in ns]
        cell = {}
        for i, n in enumerate(ns):
            for r in sizes[n]:
                j = alphas.index(r["alpha"])
                grid[i][j] = r[key] if r[key] is not None else float("nan")
                cell[i, j] = r
        mesh = ax.pcolormesh(x_edges, y_edges, grid, cmap="viridis", vmin=0, vmax=1, shading="flat")
        for (i, j), r in cell.items():
            value = grid[i][j]
            xc, yc = math.sqrt(x_edges[j] * x_edges[j + 1]), math.sqrt(y_edges[i] * y_edges[i + 1])
            if not math.isnan(value):
                ax.text(xc, yc, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 0.6 else "black")
            if not r["converged"]:
                ax.add_patch(Rectangle((x_edges[j], y_edges[i]), x_edges[j + 1] - x_edges[j],
                                       y_edges[i + 1] - y_edges[i], fill=False, hatch="//",
                                       edgecolor=COLORS[3], lw=0))
        for i, n in enumerate(ns):
            best = w_c(sizes[n])
            if best is not None:  # in the upper part of its cell, above the value
                y_star = y_edges[i] ** 0.2 * y_edges[i + 1] ** 0.8
                ax.plot([best["w"]], [y_star], marker="*", ms=11, mfc="white", mec="black",
                        mew=0.8, ls="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_edges[0], x_edges[-1])
        ax.set_ylim(y_edges[0], y_edges[-1])
        ax.set_xticks([w_of[a] for a in alphas])
        ax.set_xticklabels([f"{w_of[a]:.3g}\nα={a:.2g}" for a in alphas], fontsize=7)
        ax.set_yticks(ns)
        ax.set_yticklabels([str(n) for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("weight norm w = α·w₀")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel(f"training-set size ({size_key})")
    fig.colorbar(mesh, ax=list(axes), fraction=0.03, pad=0.02, label="error (1 − accuracy)")
    fig.suptitle(f"{rows[0]['task']}: reduced errors over (w, {size_key}) at constant weight norm "
                 f"({rows[0].get('steps')} steps per point). Hatched: not converged; "
                 "star: w_c (least test loss) of each size", fontsize=9)
    return fig
