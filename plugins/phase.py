"""``grokbench phase``: the phase diagram of grokking research (Liu et al. 2022, "Towards
Understanding Grokking: An Effective Theory of Representation Learning", NeurIPS 2022, §5 and
Fig. 6), as a plugin command (``register_commands``).

A grid over two settings (``--x lr=1e-4:1e-1:6 --y weight_decay=1e-3:10:6``: 6 log-spaced
values each), one run per point (through ``grokbench.run``, so each is an ordinary stored run:
a killed diagram resumes where it stopped), each point sorted into a phase by this rule
(docs/science.md, "Phase diagrams"):

- **comprehension**: it generalizes, and no later than twice the step at which it fit;
- **grokking**: it generalizes, at least twice as late as it fit (Liu et al.: "generalization
  long after memorization");
- **memorization**: it fits the training set and never reaches the test target;
- **confusion**: it never fits the training set (nor generalizes);
- **diverged**: its loss turned NaN/inf (Liu et al. have no such cell; it is not confusion).

"Fits" is train accuracy ≥ ``fit_target`` (0.99) and "generalizes" the task's target (0.95 test
accuracy on the algorithmic tasks), both read up to the budget: a phase is "within this budget".
"""
import html
import math

import click

import grokbench
from grokbench import UserError, hookimpl

PHASES = ("comprehension", "grokking", "memorization", "confusion", "diverged")
# Okabe–Ito colours (distinguishable with the common colour-vision deficiencies)
COLORS = {"comprehension": "#009E73", "grokking": "#E69F00", "memorization": "#0072B2",
          "confusion": "#999999", "diverged": "#CC79A7"}
SHORT = {"comprehension": "comp", "grokking": "grok", "memorization": "mem", "confusion": "conf",
         "diverged": "div"}
GROKKING_RATIO = 2.0  # generalizing at least this many times later than fitting is grokking
MAX_POINTS = 400


def classify(scores: dict, status: str) -> str:
    """The phase of one run from its scores (the rule in the module docstring)."""
    if status == "nonfinite" or scores.get("nonfinite"):
        return "diverged"
    fit, gen = float(scores["steps_to_fit"]), float(scores["steps_to_generalize"])
    if math.isfinite(gen):
        return "grokking" if math.isfinite(fit) and gen >= GROKKING_RATIO * max(fit, 1) else "comprehension"
    return "memorization" if math.isfinite(fit) else "confusion"


def parse_axis(text: str, flag: str) -> tuple[str, list[float]]:
    """``lr=1e-4:1e-1:6`` (n log-spaced values from lo to hi) or ``lr=0.001,0.01,0.1``."""
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key or not values.strip():
        raise UserError(f"{flag} takes SETTING=LO:HI:N or SETTING=V1,V2,..., got {text!r} (e.g. "
                        f"{flag} lr=1e-4:1e-1:6)")
    try:
        if ":" in values:
            lo_text, hi_text, n_text = values.split(":")
            lo, hi, n = float(lo_text), float(hi_text), int(n_text)
            if not (0 < lo < hi and math.isfinite(hi) and 2 <= n <= 50):
                raise ValueError
            out = [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
            return key, [float(f"{v:.6g}") for v in out]
        out = [float(v) for v in values.split(",")]
        if not out or not all(math.isfinite(v) for v in out):
            raise ValueError
        return key, out
    except ValueError:
        raise UserError(f"{flag} {text!r}: LO:HI:N needs 0 < LO < HI and 2 ≤ N ≤ 50 (log-spaced), "
                        f"or give finite values V1,V2,...; e.g. {flag} {key}=1e-4:1e-1:6") from None


def draw(cells, xs, ys, x_key, y_key, title):
    """The diagram: one coloured cell per point, the phase's initial and, for grokking, the delay."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    fig, ax = plt.subplots(figsize=(1.0 * len(xs) + 3, 0.8 * len(ys) + 2))
    for (i, j), (phase, scores) in cells.items():
        ax.add_patch(plt.Rectangle((i - 0.5, j - 0.5), 1, 1, color=COLORS[phase]))
        label = SHORT[phase]
        if phase == "grokking":
            label += f"\n{_steps(scores['grokking_delay'])}"
        ax.text(i, j, label, ha="center", va="center", fontsize=8, color="white")
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys])
    ax.set_xlabel(x_key)
    ax.set_ylabel(y_key)
    ax.set_title(title, fontsize=9)
    present = [p for p in PHASES if any(c[0] == p for c in cells.values())]
    ax.legend(handles=[Patch(color=COLORS[p], label=p) for p in present], loc="upper left",
              bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _steps(value) -> str:
    value = float(value)
    return "∞" if math.isinf(value) else (f"{value / 1000:.3g}k" if value >= 1000 else f"{value:.0f}")


def html_page(cells, xs, ys, x_key, y_key, title) -> str:
    rows = []
    for j in reversed(range(len(ys))):
        tds = []
        for i in range(len(xs)):
            phase, scores = cells[(i, j)]
            tip = (f"fit {_steps(scores['steps_to_fit'])}, generalize "
                   f"{_steps(scores['steps_to_generalize'])}, run {scores['run_id']}")
            tds.append(f'<td class="{phase}" title="{html.escape(tip)}">{phase}</td>')
        rows.append(f"<tr><th>{y_key} = {ys[j]:.3g}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{x_key} = {v:.3g}</th>" for v in xs)
    style = "".join(f"td.{p}{{background:{c};color:white}}" for p, c in COLORS.items())
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>table{{border-collapse:collapse;font:13px sans-serif}}td,th{{padding:6px;"
            f"border:1px solid #fff}}{style}</style><h1>{html.escape(title)}</h1>"
            f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
            "<p>Phases (docs/science.md, \"Phase diagrams\"): comprehension, grokking (generalizes "
            "at least twice as late as it fits), memorization, confusion, diverged.</p>\n")


@click.command()
@click.option("--task", required=True, help="task name (grokbench list tasks)")
@click.option("--method", default="baseline", show_default=True, help="method (a+b combines)")
@click.option("--x", "x_axis", required=True, help="horizontal axis: SETTING=LO:HI:N (log-spaced) or SETTING=V1,V2,...")
@click.option("--y", "y_axis", required=True, help="vertical axis, as --x")
@click.option("--seed", default=0, show_default=True, type=int, help="the runs' seed")
@click.option("--set", "assignments", multiple=True, help="any other setting, key=value (repeatable)")
@click.option("--preset", default=None, help="the task's preset")
@click.option("--store", type=click.Path(dir_okay=False), default=None,
              help="SQLite results file (default: $GROKBENCH_STORE or the user data dir)")
@click.option("--out", "-o", default=None, help="file to write (default: phase-TASK-METHOD.png or .html)")
@click.option("--format", "fmt", type=click.Choice(["png", "html"]), default="png", show_default=True)
@click.option("--dry-run", is_flag=True, help="say how many runs are new, train nothing")
def phase(task, method, x_axis, y_axis, seed, assignments, preset, store, out, fmt, dry_run):
    """Phase diagram: one run per point of a 2-D grid of settings, each sorted into
    comprehension, grokking, memorization or confusion (Liu et al. 2022)."""
    x_key, xs = parse_axis(x_axis, "--x")
    y_key, ys = parse_axis(y_axis, "--y")
    if x_key == y_key:
        raise UserError(f"--x and --y both set {x_key}; give two different settings")
    if len(xs) * len(ys) > MAX_POINTS:
        raise UserError(f"{len(xs)} × {len(ys)} points is more than {MAX_POINTS}; use fewer values")
    settings = {}
    for pair in assignments:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"--set takes key=value, got {pair!r} (e.g. --set p=97)")
        settings[key.strip().replace("-", "_")] = value
    out = out or f"phase-{task}-{method.replace('+', '_')}.{fmt}"
    cells, trained = {}, 0
    with click.progressbar(length=len(xs) * len(ys), label="phase diagram", file=None) as bar:
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                # one thread, as sweep workers: two beside other jobs run many times slower
                point = {"threads": 1, **settings, x_key: x, y_key: y, "seed": seed}
                if dry_run:
                    bar.update(1)
                    continue
                result = grokbench.run(task, method, store=store, preset=preset, progress=False,
                                       **point)
                trained += not result.from_store
                scores = {**result.scores, "run_id": result.run_id}
                cells[(i, j)] = (classify(result.scores, result.status), scores)
                bar.update(1)
    if dry_run:
        click.echo(f"{len(xs) * len(ys)} points ({len(xs)} {x_key} × {len(ys)} {y_key}); runs "
                   "already stored are read, not trained")
        return
    title = (f"{task} / {method}, seed {seed}: phases over {x_key} × {y_key}"
             + (f" ({', '.join(f'{k}={v}' for k, v in settings.items())})" if settings else ""))
    if fmt == "html":
        from pathlib import Path
        Path(out).write_text(html_page(cells, xs, ys, x_key, y_key, title), encoding="utf-8")
    else:
        fig = draw(cells, xs, ys, x_key, y_key, title)
        fig.savefig(out, dpi=130, bbox_inches="tight")
    counts = {p: sum(c[0] == p for c in cells.values()) for p in PHASES}
    click.echo(", ".join(f"{p}: {n}" for p, n in counts.items() if n)
               + f" ({trained} runs trained, {len(cells) - trained} read from the store); wrote {out}")


@hookimpl
def register_commands(register):
    register(phase)
