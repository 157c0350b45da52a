"""The leaderboard as one self-contained web page (``grokbench leaderboard --format html``).

It renders the tables :func:`grokbench.leaderboard.build` computed (the same cells as the
Markdown, through :mod:`grokbench.render`'s formatters), adds each task's test-accuracy curves
(median over seeds, shaded from the lowest to the highest seed) and the performance profiles
ρ(τ) as plotly figures, and inlines plotly.js once, so the page needs no network. Tables sort
when a header is clicked.

The page is a pure function of its inputs: no timestamps, fixed element ids, sorted JSON. It
carries the SHA-256 of the tables' JSON (:func:`tables_digest`), so ``grokbench leaderboard
--check`` can tell a page that no longer shows the committed tables (:func:`page_digest`).
"""
from __future__ import annotations

import hashlib
import html
import math
import re

from .errors import UserError
from .columns import (OVERALL_COLUMNS, SENSITIVITY_COLUMNS, TASK_COLUMNS, cells, fmt_setting,
                      headers, sort_values)
from .leaderboard import label_runs, seed_count, survival_text
from .plot import COLORS, km_at, km_steps, profile_steps
from .render import (censoring_text, not_applicable_text, overall_headers,
                     overall_rows, profile_text, scoring_text, task_headers, task_rows, to_json)
from .stats import median, quantile

EXTRA_HINT = "pip install 'grokbench[html]'"
DIGEST_META = "grokbench-tables-sha256"
# Plotting options every figure shares: no plotly logo link (the page must not invite a
# network request), and figures follow the page width.
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def require_plotly():
    try:
        import plotly.graph_objects as go  # optional extra [html]
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise UserError(f"--format html needs plotly: {EXTRA_HINT}") from None
    return go, get_plotlyjs


def tables_digest(lb) -> str:
    """SHA-256 of the tables exactly as ``--write`` writes NAME.json."""
    return hashlib.sha256(to_json(lb).encode("utf-8")).hexdigest()


def page_digest(text: str) -> str | None:
    """The tables digest a page carries (None: not a grokbench page)."""
    found = re.search(rf'<meta name="{DIGEST_META}" content="([0-9a-f]{{64}})">', text)
    return found.group(1) if found else None


# -- curves -------------------------------------------------------------------------------------

def seed_band(runs, key="test_acc"):
    """Median and min–max over seeds of ``key`` at every evaluated step (step 0 left out: the
    axis is logarithmic). ``runs``: [{"status", "curve"}]. A run stopped at its decision point
    (``early_stop``: target reached and held) keeps its last value afterwards, as its scores
    do; a run that ended otherwise (NaN/inf) drops out after its last evaluation. Returns
    (steps, median, low, high, seeds counted) lists."""
    series = []
    for run in runs:
        evals = [(r["step"], r.get(key)) for r in run["curve"] if "train_acc" in r and r["step"] > 0]
        series.append((dict(evals), evals[-1] if run.get("status") == "stopped_early" and evals
                       else None))
    steps = sorted({s for values, _ in series for s in values})
    out: tuple[list, list, list, list, list] = ([], [], [], [], [])
    for step in steps:
        column = []
        for values, held in series:
            value = values.get(step)
            if value is None and held is not None and step > held[0]:
                value = held[1]
            if value is not None and not math.isnan(value):
                column.append(value)
        if column:
            column.sort()
            for part, v in zip(out, (step, quantile(column, 0.5), column[0], column[-1], len(column))):
                part.append(v)
    return out


def curve_groups(lb, records, curves, store_scores=None, planned=()) -> dict:
    """{task: {row label: [{"seed", "status", "curve", "scores", "store_scores"}]}} of the runs
    whose curve is known, rows labelled as the tables label them (``planned``: the suite's
    missing runs' configs, as given to leaderboard.build). ``curves``: {run id: curve}; a
    record that carries its own ``curve`` uses it. ``store_scores``: {run id: scores} of the runs
    whose curve comes from a store where they scored otherwise than in ``records``."""
    groups: dict = {}
    store_scores = store_scores or {}
    for task, rows in label_runs(records, planned).items():
        for label, recs in rows.items():
            runs = [{"seed": r["seed"], "status": r.get("status"),
                     "curve": r.get("curve") or curves.get(r["run_id"]),
                     "scores": r.get("scores"), "store_scores": store_scores.get(r["run_id"])}
                    for r in recs]
            runs = sorted((r for r in runs if r["curve"]), key=lambda r: r["seed"])
            if runs:
                groups.setdefault(task, {})[label] = runs
    return groups


def _slug(text) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


# The Okabe–Ito colours (COLORS, colour-blind safe), ordered for the page so that the first six
# methods differ in hue and in lightness: blue next to sky blue (norm and StableMax on the quick
# page) was hard to tell apart. Each method also has its own dash pattern, a cue without colour.
PAGE_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#000000", "#56B4E9",
               "#999999", "#F0E442"]
DASHES = ["solid", "dash", "dashdot", "dot", "longdash", "longdashdot"]


def _colors(lb):
    """One colour per method, the same in every figure (order of the across-tasks table)."""
    methods = [r["method"] for r in lb["overall"]["rows"]]
    return {m: PAGE_COLORS[i % len(PAGE_COLORS)] for i, m in enumerate(methods)}


def _dashes(lb):
    """One dash pattern per method, as the profiles figure draws them."""
    return {r["method"]: DASHES[i % len(DASHES)] for i, r in enumerate(lb["overall"]["rows"])}


def disagreements(table, runs_by_label) -> dict[str, str]:
    """{method: what its curves' runs score against what the table says} for the rows whose
    curves were read from a store whose runs (same ids) scored otherwise than the table's runs
    (computed again, e.g. on a CPU that rounds differently): those curves are not the table's."""
    out = {}
    for row in table["rows"]:
        runs = runs_by_label.get(row["method"]) or []
        if not any(r.get("store_scores") is not None for r in runs):
            continue
        steps = [(r.get("store_scores") or r.get("scores") or {}).get("steps_to_generalize", math.inf)
                 for r in runs]
        steps = [math.inf if s is None else s for s in steps]
        solved, mid = sum(not math.isinf(s) for s in steps), median(steps)
        gen = row["steps_to_generalize"]
        out[row["method"]] = (
            f"the curves' runs: {solved}/{len(runs)} solved, median "
            + ("∞" if math.isinf(mid) else f"{mid:g}") + f" steps; the table: {row['solved']}/"
            f"{row['runs']} solved, median " + ("∞" if math.isinf(gen) else f"{gen:g}") + " steps")
    return out


def _rgba(hex_color, alpha):
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _figure_html(fig, div_id) -> str:
    # A fixed div id: plotly makes a random one otherwise, and the page must be reproducible.
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)


def curves_figure(go, table, runs_by_label, colors, dashes=None):
    meta = table["meta"]
    fig = go.Figure()
    odd = disagreements(table, runs_by_label)
    for row in table["rows"]:
        runs = runs_by_label.get(row["method"])
        if not runs:
            continue
        steps, med, low, high, counted = seed_band(runs)
        if not steps:
            continue
        color = colors.get(row["method"], COLORS[-1])
        group = row["method"]
        # The band: the upper edge, then the lower edge filled up to it.
        fig.add_trace(go.Scatter(x=steps, y=high, mode="lines", line={"width": 0}, legendgroup=group,
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=steps, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=_rgba(color, 0.18), legendgroup=group, showlegend=False,
                                 hoverinfo="skip"))
        gen = row["steps_to_generalize"]
        name = (f"{row['method']}: {row['solved']}/{row['runs']} solved, median "
                + ("∞" if math.isinf(gen) else f"{gen:g}") + " steps")
        if row["method"] in odd:  # marked: these curves are not the table's runs
            name = f"⚠ {row['method']}, NOT the table's runs: {odd[row['method']]}"
        line = {"color": color, "width": 2, "dash": (dashes or {}).get(row["method"], "solid")}
        fig.add_trace(go.Scatter(
            x=steps, y=med, mode="lines", name=name, legendgroup=group, line=line,
            customdata=[[lo, hi, n] for lo, hi, n in zip(low, high, counted)],
            hovertemplate=(f"{html.escape(row['method'])}<br>step %{{x}}<br>median test acc %{{y:.3f}}"
                           "<br>seeds: min %{customdata[0]:.3f}, max %{customdata[1]:.3f} "
                           "(%{customdata[2]} seeds)<extra></extra>")))
    target = meta["settings"].get("target")
    if isinstance(target, (int, float)) and meta["settings"].get("target_metric") == "test_acc":
        fig.add_hline(y=target, line={"color": "grey", "width": 1, "dash": "dash"},
                      annotation_text=f"target {target:g}", annotation_position="bottom right")
    fig.update_layout(
        template="plotly_white", height=430, margin={"l": 60, "r": 20, "t": 40, "b": 50},
        title={"text": f"{table['task']}: test accuracy, median over seeds "
                       f"{', '.join(map(str, meta['seeds']))} (band: min–max over seeds)",
               "font": {"size": 14}},
        legend={"font": {"size": 11}, "yanchor": "top", "y": -0.18, "x": 0, "orientation": "h"},
        xaxis={"type": "log", "title": {"text": "training step"}},
        yaxis={"range": [-0.03, 1.03], "title": {"text": "test accuracy"}})
    fig.update_layout(height=430 + 22 * len(table["rows"]))
    return fig


def km_figure(go, table, colors):
    """The task's Kaplan–Meier estimates of P(generalized by step t), as in NAME.km.png: a step
    line per method with its 95 % band, censored runs as ticks, the budget dashed."""
    meta = table["meta"]
    tau = meta["rmst_tau"]
    firsts = [r["km"][0][0] for r in table["rows"] if r.get("km")]
    # from half the first event on (the log axis has room); no event: two decades
    left = max(min(firsts) / 2, 1.0) if firsts else max(tau / 100, 1.0)
    fig = go.Figure()
    n = len(table["rows"])
    for j, row in enumerate(table["rows"]):
        color, group = colors.get(row["method"], COLORS[-1]), row["method"]
        offset = (j - (n - 1) / 2) * 0.008  # equal curves would hide each other
        steps, values, lows, highs = km_steps(row, tau)
        steps[0] = left
        fig.add_trace(go.Scatter(x=steps, y=highs, mode="lines", line={"width": 0, "shape": "hv"},
                                 legendgroup=group, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=steps, y=lows, mode="lines", line={"width": 0, "shape": "hv"},
                                 fill="tonexty", fillcolor=_rgba(color, 0.10), legendgroup=group,
                                 showlegend=False, hoverinfo="skip"))
        low, high = row["rmst_ci"]
        fig.add_trace(go.Scatter(
            x=steps, y=[v + offset for v in values], customdata=list(zip(values, lows, highs)),
            mode="lines", line={"shape": "hv", "color": color, "width": 2}, legendgroup=group,
            name=f"{row['method']}: {row['solved']}/{row['runs']}, RMST {row['rmst']:.0f} "
                 f"({low:.0f}–{high:.0f}), group {row.get('rank_group', '')}",
            hovertemplate=(f"{html.escape(row['method'])}<br>from step %{{x}}<br>P(generalized) "
                           "%{customdata[0]:.2f} (95 %: %{customdata[1]:.2f}–%{customdata[2]:.2f})"
                           "<extra></extra>")))
        censored = row.get("censored") or []
        if censored:
            fig.add_trace(go.Scatter(
                x=[t for t, _why in censored], y=[km_at(row, t) + offset for t, _why in censored],
                mode="markers", marker={"symbol": "line-ns-open", "size": 14, "color": color,
                                        "line": {"width": 2, "color": color}},
                legendgroup=group, showlegend=False, customdata=[why for _t, why in censored],
                hovertemplate=(f"{html.escape(row['method'])}: censored at step %{{x}} "
                               "(%{customdata})<extra></extra>")))
    fig.add_vline(x=tau, line={"color": "grey", "width": 1, "dash": "dash"},
                  annotation_text=f"budget {tau:g}", annotation_position="top left")
    fig.update_layout(
        template="plotly_white", height=430 + 22 * n, margin={"l": 60, "r": 20, "t": 40, "b": 50},
        title={"text": f"{table['task']}: Kaplan–Meier estimate of P(generalized by step t), "
                       "95 % band; ticks: censored runs", "font": {"size": 14}},
        legend={"font": {"size": 11}, "yanchor": "top", "y": -0.18, "x": 0, "orientation": "h"},
        xaxis={"type": "log", "range": [math.log10(left), math.log10(tau * 1.25)],
               "title": {"text": "training step"}},
        yaxis={"range": [-0.05, 1.05], "title": {"text": "P(generalized by step t)"}})
    return fig


def profiles_figure(go, lb, colors):
    overall = lb["overall"]
    r_max, n_rows = overall["r_max"], len(overall["rows"])
    fig = go.Figure()
    for i, row in enumerate(overall["rows"]):
        taus, values = profile_steps(row["ratios"], r_max)
        # Methods with identical profiles would hide each other: shifted a little, as in the
        # PNG (the hover shows the true ρ).
        offset = (i - (n_rows - 1) / 2) * 0.012
        fig.add_trace(go.Scatter(
            x=taus, y=[v + offset for v in values], customdata=values, mode="lines",
            line={"shape": "hv", "color": colors[row["method"]], "width": 2,
                  "dash": ["solid", "dash", "dashdot", "dot", "longdash", "longdashdot"][i % 6]},
            name=f"{row['method']} (B = {row['score']:.2f}"
                 + (f", {row['tasks']} of {len(lb['tasks'])} tasks)" if row.get("incomplete_tasks")
                    else ")"),
            hovertemplate=f"{html.escape(row['method'])}<br>τ %{{x:.2f}}<br>ρ(τ) %{{customdata:.2f}}"
                          "<extra></extra>"))
    ticks = [1, 1.5, 2, 3, 4] if r_max == 4 else [1, r_max]
    fig.update_layout(
        template="plotly_white", height=400, margin={"l": 60, "r": 20, "t": 40, "b": 50},
        title={"text": f"Performance profiles, suite {lb['name']} ({len(lb['tasks'])} tasks); "
                       "equal curves are drawn slightly apart", "font": {"size": 14}},
        xaxis={"type": "log", "range": [0, math.log10(r_max)], "tickvals": ticks,
               "title": {"text": "τ (within τ × the best method's median steps-to-generalize)"}},
        yaxis={"range": [-0.05, 1.05], "title": {"text": "ρ(τ): fraction of tasks"}},
        legend={"title": {"text": "method (score B)"}})
    return fig


# -- tables -------------------------------------------------------------------------------------

def _key(value):
    """A cell's sort key: numbers as numbers (∞ sorts after every finite value), nothing as
    empty (always last)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return "Infinity" if math.isinf(value) else repr(value)
    return str(value)


def _cell(text) -> str:
    # The Markdown's **bold** (a fragile cell) as HTML; everything else escaped.
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(str(text)))


def table_html(table_id, headers, rows, keys) -> str:
    head = "".join(f'<th scope="col"><button type="button">{html.escape(h)}</button></th>'
                   for h in headers)
    body = []
    keys = list(keys) + [[]] * (len(rows) - len(keys))  # rows without keys (not applicable) sort last
    for row, row_keys in zip(rows, keys):
        tds = "".join(f'<td data-sort="{html.escape(_key(k))}">{_cell(c)}</td>'
                      for c, k in zip(row, row_keys + [None] * (len(row) - len(row_keys))))
        body.append(f"<tr>{tds}</tr>")
    return (f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


# A click on a header sorts the rows by that column's data-sort keys (numbers numerically,
# empty keys last), again to reverse; ties keep the table's own order (its tie-breaks), so a
# click on "rank" restores it. Plain DOM code: no library to load.
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  Array.prototype.forEach.call(table.tBodies[0].rows, function (tr, i) { tr.dataset.order = i; });
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.querySelector("button").addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows).map(function (tr) {
        var raw = tr.cells[col] ? tr.cells[col].getAttribute("data-sort") : "";
        var num = raw === "" ? NaN : Number(raw);
        return {tr: tr, i: Number(tr.dataset.order), empty: raw === "" || raw === null, num: num, raw: raw};
      });
      rows.sort(function (a, b) {
        if (a.empty !== b.empty) { return a.empty ? 1 : -1; }
        var d = 0;
        if (!isNaN(a.num) && !isNaN(b.num)) { d = a.num < b.num ? -1 : a.num > b.num ? 1 : 0; }
        else { d = String(a.raw).localeCompare(String(b.raw)); }
        return (ascending ? d : -d) || a.i - b.i;
      });
      rows.forEach(function (r) { body.appendChild(r.tr); });
    });
  });
});
"""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f4f7; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button::after { content: " ⇅"; color: #999; }
th[aria-sort="ascending"] button::after { content: " ▲"; color: #333; }
th[aria-sort="descending"] button::after { content: " ▼"; color: #333; }
tbody tr:nth-child(even) { background: #fafbfc; }
code, pre { background: #f4f4f4; border-radius: 3px; }
pre { padding: 0.6em; white-space: pre-wrap; font-size: 0.88em; }
.note { color: #555; font-size: 0.92em; }
.warn { color: #7a3d00; background: #fff4e0; border-left: 4px solid #D55E00; padding: 0.4em 0.7em; }
details { margin: 0.4em 0 1em; }
"""


CURVES_CAPTION = ("Lines (each method its colour and dash pattern): the median over seeds of the "
                  "test accuracy at each evaluation; band: "
                  "from the lowest to the highest seed; dashed: the target. A run that reached "
                  "its decision point (fit, target reached and held for 3 evaluations) stopped "
                  "there (early_stop) and is held at its last value while other seeds go on; a "
                  "curve ends where its last seed stopped.")


KM_CAPTION = ("Kaplan–Meier estimate of P(generalized by step t) from the runs' steps-to-"
              "generalize alone (no curves needed): a step up at each run that generalized, ticks "
              "for the censored runs (at the budget, dashed, or at a NaN/inf stop), the band its "
              "pointwise 95 % interval (Greenwood, log(−log)). Equal curves are drawn slightly "
              "apart.")


def _p(text, cls=None) -> str:
    return f'<p{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html.escape(text)}</p>'


def tables_html(lb) -> dict[str, str]:
    """{element id: the HTML table} of every table the page shows, built from the tables'
    JSON alone: ``leaderboard --check`` finds each of them, cell for cell, in the committed page."""
    overall, ref = lb["overall"], lb["overall"]["reference"] or "reference"
    out = {"table-overall": table_html("table-overall", overall_headers(overall, ref),
                                       overall_rows(overall),
                                       [sort_values(OVERALL_COLUMNS, r, overall) for r in overall["rows"]])}
    if lb.get("sensitivity"):
        rows = lb["sensitivity"]
        out["table-sensitivity"] = table_html(
            "table-sensitivity", headers(SENSITIVITY_COLUMNS, {}),
            [cells(SENSITIVITY_COLUMNS, r, {}) for r in rows],
            [sort_values(SENSITIVITY_COLUMNS, r, {}) for r in rows])
    for table in lb["tasks"]:
        slug = _slug(table["task"])
        out[f"table-{slug}"] = table_html(
            f"table-{slug}", task_headers(table), task_rows(table, lb.get("not_applicable") or ()),
            [sort_values(TASK_COLUMNS, r, table) for r in table["rows"]])
    return out


def to_html(lb, curve_groups_by_task=None, curves_note="", config_text="", command="") -> str:
    """The page. ``curve_groups_by_task``: :func:`curve_groups` (None or empty: no curves, and
    ``curves_note`` says why); ``config_text``: the suite's TOML; ``command``: the command that
    regenerates this page."""
    go, get_plotlyjs = require_plotly()
    colors = _colors(lb)
    overall, ref = lb["overall"], lb["overall"]["reference"] or "reference"
    tables = tables_html(lb)
    curve_groups_by_task = curve_groups_by_task or {}
    out = [f"<h1>grokbench leaderboard: {html.escape(lb['name'])}</h1>"]
    for para in (lb.get("description") or "").strip().split("\n\n"):
        if para.strip():
            out.append(_p(para.strip()))
    facts = [f"{lb['runs']} runs; run with {'; '.join(lb['run_versions']) or 'unknown versions'}"
             + (f" on {'; '.join(lb['machines'])}" if lb.get("machines") else "")
             + f"; tables built by {lb['built_by']}."]
    if lb.get("missing"):
        facts.append(f"{len(lb['missing'])} runs of the suite are missing (failed or not run; left "
                     "out, not counted as misses): " + ", ".join(f"{t}/{m}/seed {s}"
                                                                 for t, m, s in lb["missing"]))
    if lb.get("not_applicable"):
        facts.append("Not applicable (not run): " + not_applicable_text(lb["not_applicable"]))
    n = seed_count(lb["tasks"])
    facts += [scoring_text(n)] + ([survival_text(n=n)] if overall.get("significance") else [])
    facts += [f"CI tolerance (--check): {lb['tolerance']}."]
    out.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>")

    out += ["<h2>Regenerate</h2>", "<p>This page:</p>", f"<pre><code>{html.escape(command)}</code></pre>"]
    cmds = lb.get("commands") or []
    if cmds:
        out.append("<ul>" + "".join(f"<li>{html.escape(what)}: <code>{html.escape(cmd)}</code></li>"
                                    for what, cmd in cmds) + "</ul>")

    out += ['<h2 id="across-tasks">Across tasks</h2>', _p(profile_text(overall, ref)),
            tables["table-overall"], _figure_html(profiles_figure(go, lb, colors), "profiles")]
    if lb.get("sensitivity"):
        out += ["<h2>Numerical sensitivity</h2>",
                _p("The same runs (same configs and seeds) repeated under other CPU code paths "
                   f"(ATen kernels: {', '.join(lb['codepaths'])}, forced with ATEN_CPU_CAPABILITY) "
                   "round floating point differently. A task cell is fragile when its solved count "
                   "or median steps-to-generalize changes between code paths."),
                tables["table-sensitivity"]]

    if not curve_groups_by_task and curves_note:
        out.append(_p(curves_note, "note"))
    for table in lb["tasks"]:
        meta, slug = table["meta"], _slug(table["task"])
        budget = (f"Budget {meta['steps']} steps, evaluated every {meta['eval_every']} "
                  f"(every step up to 10, then log-spaced)" if meta["steps"] and meta["eval_every"]
                  else "Budget and evaluation schedule differ between rows (see the settings)")
        out += [f'<h2 id="task-{slug}">{html.escape(table["task"])}</h2>',
                _p(f"{budget}; seeds {', '.join(map(str, meta['seeds']))}; generalized = "
                   f"{meta['target']}; fit = {meta['fit_target']}; collapse onset = first evaluation "
                   f"with SC fraction ≥ {meta['sc_threshold']} ('none': never)." + censoring_text(table)),
                tables[f"table-{slug}"]]
        if meta.get("rmst_tau"):
            out.append(_figure_html(km_figure(go, table, colors), f"km-{slug}"))
            out.append(_p(KM_CAPTION, "note"))
        runs_by_label = curve_groups_by_task.get(table["task"])
        odd = disagreements(table, runs_by_label) if runs_by_label else {}
        if odd:
            out.append(_p("⚠ The curves below come from the results store, whose runs of the same "
                          "ids scored otherwise than this table's (computed again: another CPU "
                          "rounds differently): " + "; ".join(f"{m}: {why}" for m, why in odd.items())
                          + ". Those curves are marked ⚠ in the legend and do not show the "
                          "table's runs.", "warn"))
        if runs_by_label:
            out.append(_figure_html(curves_figure(go, table, runs_by_label, colors, _dashes(lb)),
                                    f"curves-{slug}"))
            out.append(_p(CURVES_CAPTION + (" " + curves_note if curves_note else ""), "note"))
        elif curve_groups_by_task:
            out.append(_p("No curves for this task's runs.", "note"))
        settings = ", ".join(f"{k}={fmt_setting(v)}" for k, v in sorted(meta["settings"].items()))
        rows = "".join(f"<li>{html.escape(r['method'])}: " + html.escape(", ".join(
            f"{k}={fmt_setting(v)}" for k, v in sorted(meta["row_settings"][r["method"]].items())))
            + "</li>" for r in table["rows"] if meta["row_settings"].get(r["method"]))
        out.append(f"<details><summary>settings</summary><p>Shared by every run: "
                   f"{html.escape(settings)}</p><ul>{rows}</ul></details>")
    if config_text:
        out += ["<h2>Suite configuration</h2>", f"<pre><code>{html.escape(config_text)}</code></pre>"]

    title = html.escape(f"grokbench leaderboard: {lb['name']}")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="{DIGEST_META}" content="{tables_digest(lb)}">',
        f"<title>{title}</title>", f"<style>{CSS}</style>",
        # plotly.js itself, once, inline (what plotly's include_plotlyjs=True writes): no network.
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>',
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head>", "<body>", *out, f"<script>{SORT_JS}</script>", "</body>", "</html>", ""])
