"""Omnigrok's reduced loss landscapes (Liu et al. 2023 §2–4, Fig. 1–5): train at a fixed weight
norm w = α·w₀ (the ``norm`` method: the global norm is put back to its value after α-scaling
after every step) and record where training ends, at each α of a grid and, for tasks with a
training-set size setting, at each size N.

The reduced train and test loss (and error, one minus accuracy) of a point are read where its
run ends, "the converging point after training" (§3): the median of the evaluations in the last
READ_WINDOW of the budget, not the single last one, because Adam on the sphere spikes now and then
and one evaluation can catch a spike (docs/science.md, "Reduced loss landscapes"). Every point is an
ordinary run of the ``norm`` method with ``init_scale`` = α and the size setting = N, trained
for a fixed budget through :mod:`grokbench.sweep`, so points are stored, resumable and listed by
``grokbench show`` like any run. Whether a point really converged is read from its curve
afterwards (:func:`convergence`); points that did not are kept, and marked, never drawn as
ordinary points. docs/science.md ("Reduced loss landscapes") states the rule and the papers'
settings.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .claims import Measured, Runs
from .config import run_id
from .data import atomic_write_bytes
from .errors import UserError
from .files import read_jsonl
from .grid import expand
from .scoring import from_jsonable, to_jsonable
from .stats import median

#: The method whose runs are the landscape's points: constant global weight norm, no weight decay.
METHOD = "norm"
#: 10^linspace(-1, 1, 11), the α grid of the Omnigrok code's teacher-student landscape (Fig. 2a);
#: its MNIST landscape (Fig. 3) uses 21 points over the same range.
DEFAULT_ALPHAS = "0.1:10:11"
#: the budget of the Omnigrok code's teacher-student and MNIST landscapes
DEFAULT_STEPS = 10000
#: evaluations over the budget (plus the engine's dense early ones): the convergence window
#: below holds 10 of them
EVALS_PER_BUDGET = 50

# The convergence rule (docs/science.md, "Reduced loss landscapes"):
#: stalled: the train loss at the end is above this fraction of its value at initialization
STALL_FRACTION = 0.95
#: the window: the last fifth of the budget, compared half against half
WINDOW = 0.2
#: unsettled: the median train loss of the window's second half differs from its first half's by
#: more than this factor (either way: still descending, or rising again)
SETTLE_FACTOR = 1.25
#: ... unless it is below this fraction of the run's final test loss: two decades below the test
#: loss the train loss is at the flat bottom of the "L", however it still creeps down
ZERO_FRACTION = 0.01

#: the reduced values: the median of the evaluations in the last tenth of the budget (the second
#: half of the convergence window; 5 evaluations at EVALS_PER_BUDGET), never fewer than the last one
READ_WINDOW = WINDOW / 2


# -- the grid ---------------------------------------------------------------------------------

#: the most α values one landscape takes (the paper's has 11)
MAX_ALPHAS = 1000


def parse_alphas(text: str) -> list[float]:
    """``lo:hi:n`` (n points log-spaced from lo to hi, both included) or a list ``0.5,1,2``."""
    text = text.strip()
    try:
        if ":" in text:
            lo_text, hi_text, n_text = text.split(":")
            lo, hi, n = float(lo_text), float(hi_text), int(n_text)
            if n < 1:
                raise ValueError
            if n > MAX_ALPHAS:  # each α is a run per N and seed, and the list is built whole
                raise UserError(f"--alpha {text} asks for {n} values of α, more than a landscape "
                                f"takes ({MAX_ALPHAS}); e.g. 0.1:10:11")
            if n == 1:
                alphas = [lo]
            else:
                alphas = [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
        else:
            alphas = [float(v) for v in text.split(",") if v.strip()]
    except (ValueError, ZeroDivisionError):
        raise UserError(f"--alpha takes lo:hi:n (n log-spaced values, e.g. 0.1:10:11) or a list "
                        f"(e.g. 0.5,1,2); got {text!r}") from None
    if not alphas or any(not (a > 0 and math.isfinite(a)) for a in alphas):
        raise UserError(f"--alpha values must be positive numbers; got {text!r}")
    # 12 significant digits: 10**(2/10)*0.1 and 0.15848931924611 are one α and one run id
    return sorted({float(f"{a:.12g}") for a in alphas})


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--n takes training-set sizes, e.g. --n 100,1000,4000; got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise UserError(f"--n takes positive training-set sizes, e.g. --n 100,1000; got {text!r}")
    return sorted(set(sizes))


def size_setting(registry, task: str) -> str | None:
    """The setting that chooses the task's training-set size (``Task.size_option``), if any
    (registration refused a task naming one that is not among its options)."""
    return registry.get("tasks", task).obj.size_option


def default_eval_every(steps) -> int:
    """EVALS_PER_BUDGET evaluations over the budget: what the command and a claim's landscape
    group both use, so they build the same configs (the same run ids)."""
    return max(1, int(steps) // EVALS_PER_BUDGET)


def build_configs(registry, task: str, alphas, sizes=None, seeds=(0,), steps: int = DEFAULT_STEPS,
                  eval_every: int | None = None, settings: dict | None = None,
                  preset: str | None = None) -> list[dict]:
    """The resolved configs of every point: α × N × seed, in that order (a sweep grid)."""
    settings = dict(settings or {})
    for key in ("init_scale", "seed"):
        if key in settings:
            raise UserError(f"{key} is an axis of the landscape: use "
                            + ("--alpha" if key == "init_scale" else "--seeds"))
    grid: dict[str, list] = {"init_scale": list(alphas)}
    if sizes:
        size_key = size_setting(registry, task)
        if size_key is None:
            raise UserError(f"task {task!r} has no training-set size setting, so --n does not "
                            "apply; drop --n (the landscape is then over α alone)")
        if size_key in settings:
            raise UserError(f"{size_key} is the landscape's N axis: use --n, not --set {size_key}=...")
        grid[size_key] = list(sizes)
    settings.setdefault("steps", int(steps))
    settings.setdefault("eval_every", eval_every or default_eval_every(settings["steps"]))
    spec = {"tasks": [task], "methods": [METHOD], "seeds": list(seeds), "settings": settings,
            "task_settings": {}, "grid": grid, "preset": preset}
    return expand(registry, spec)


# -- one point --------------------------------------------------------------------------------

def convergence(curve: list[dict], steps: int, status: str = "finished") -> tuple[str, str]:
    """(status, reason) of one landscape run from its curve (docs/science.md):

    - ``nonfinite``: the loss turned NaN/inf;
    - ``stalled``: the train loss at the end is above STALL_FRACTION of its value at step 0
      (the optimizer on the sphere never moved it, as the norm method at α ≤ 1 on the modular
      tasks);
    - ``unsettled``: over the last WINDOW of the budget, the median train loss of the second half
      differs from the first half's by more than SETTLE_FACTOR (still descending, or rising),
      unless it is below ZERO_FRACTION of the final test loss (then it is on the flat bottom of
      the "L" and its creeping does not move the landscape);
    - ``converged`` otherwise."""
    evals = [r for r in curve if "train_loss" in r]
    if status == "nonfinite" or not evals or any(
            not _finite(r.get("train_loss")) for r in evals[-1:]):
        return "nonfinite", "the loss turned NaN/inf"
    first, last = evals[0], evals[-1]
    if last["train_loss"] >= STALL_FRACTION * first["train_loss"]:
        return "stalled", (f"train loss {last['train_loss']:.3g} at the end vs "
                           f"{first['train_loss']:.3g} at step 0")
    start = last["step"] - WINDOW * max(steps, 1)
    window = [r for r in evals if r["step"] > start]
    if len(window) >= 4:
        half = len(window) // 2
        a = median([r["train_loss"] for r in window[:half]])
        b = median([r["train_loss"] for r in window[half:]])
        if b < ZERO_FRACTION * last["test_loss"]:
            return "converged", (f"train loss {b:.3g} < {ZERO_FRACTION:.0%} of the test loss "
                                 f"{last['test_loss']:.3g} (the L's flat bottom)")
        change = f"{'fell' if b < a else 'rose'} {max(a, b) / min(a, b):.2f}× over the last {WINDOW:.0%}"
        if a > 0 and b > 0 and not (1 / SETTLE_FACTOR <= b / a <= SETTLE_FACTOR):
            return "unsettled", f"train loss {change} of the budget (more than {SETTLE_FACTOR:g}×)"
        return "converged", f"train loss {change} of the budget (within {SETTLE_FACTOR:g}×)"
    return "converged", "too few evaluations in the window to judge; taken as converged"


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def point_from_run(row: dict, size_key: str | None) -> dict:
    """One run of the store as a landscape point (what the JSONL and the figures hold)."""
    cfg, curve = row["config"], row["curve"]
    evals = [r for r in curve if "train_loss" in r]
    last = evals[-1] if evals else {}
    status, reason = convergence(curve, int(cfg["steps"]), row["status"])
    w = last.get("weight_norm")
    alpha = float(cfg["init_scale"])
    read = read_window(evals, int(cfg["steps"]))
    return {
        "task": cfg["task"], "run_id": row["run_id"], "seed": cfg["seed"], "alpha": alpha,
        "size_key": size_key, "n": cfg.get(size_key) if size_key else None,
        "w": w, "w0": w / alpha if w is not None else None,
        "steps": cfg["steps"], "steps_run": last.get("step"),
        "read_from_step": read[0]["step"] if read else None, "evals_read": len(read),
        "train_loss": _median_of(read, "train_loss"), "test_loss": _median_of(read, "test_loss"),
        "train_err": _error(read, "train_acc"), "test_err": _error(read, "test_acc"),
        "train_loss_last": last.get("train_loss"), "test_loss_last": last.get("test_loss"),
        "train_loss_init": evals[0]["train_loss"] if evals else None,
        "status": status, "converged": status == "converged", "reason": reason,
        "wall_time": row["scores"].get("wall_time"), "steps_per_s": row["scores"].get("steps_per_s"),
    }


def read_window(evals: list[dict], steps: int) -> list[dict]:
    """The evaluations a point's reduced values are read from: those in the last READ_WINDOW of
    the budget before the last evaluation (always at least the last one)."""
    if not evals:
        return []
    start = evals[-1]["step"] - READ_WINDOW * max(steps, 1)
    return [r for r in evals if r["step"] > start] or evals[-1:]


def _median_of(rows: list[dict], key: str):
    values = [r[key] for r in rows if key in r]
    if not values:
        return None
    # a NaN/inf anywhere in the window is the point's value: it is marked nonfinite, not smoothed
    bad = [v for v in values if not _finite(v)]
    return bad[-1] if bad else median(values)


def _error(rows: list[dict], acc_key: str):
    acc = _median_of(rows, acc_key)
    return 1 - acc if acc is not None else None


def points_from_store(store, configs, size_key: str | None) -> list[dict]:
    out = []
    for cfg in configs:
        rid = run_id(cfg)
        if store.has(rid):
            out.append(point_from_run(store.get(rid), size_key))
    return out


def write_points(points, path) -> Path:
    text = "".join(json.dumps(to_jsonable(p), sort_keys=True, allow_nan=False) + "\n"
                   for p in points)
    atomic_write_bytes(Path(path), lambda fh: fh.write(text.encode("utf-8")))
    return Path(path)


def read_points(path) -> list[dict]:
    """The points of a --jsonl file, each checked before any is drawn (a hand-edited file with
    a negative w failed in the log-scale figure, after the first figure was written)."""
    fix = "give a points file written by grokbench landscape --jsonl"
    points = []
    for n, value in read_jsonl(path, fix):
        point = from_jsonable(value)
        problem = point_problem(point)
        if problem:
            raise UserError(f"{path}:{n} {problem}; {fix}")
        points.append(point)
    if not points:
        raise UserError(f"{path} holds no landscape points; {fix}")
    return points


def point_problem(p) -> str | None:
    if not isinstance(p, dict):
        return "is not a JSON object"
    missing = {"task", "alpha", "status", "seed", "run_id", "converged"} - set(p)
    if missing:
        return f"lacks {sorted(missing)}"
    if not (isinstance(p["task"], str) and isinstance(p["status"], str)
            and isinstance(p["run_id"], str) and isinstance(p["converged"], bool)
            and isinstance(p["seed"], int) and not isinstance(p["seed"], bool)):
        return "has a task, status, run_id, seed or converged of the wrong type"
    if not (_number(p["alpha"]) and 0 < p["alpha"] < math.inf):
        return f"has alpha {p['alpha']!r}, not a positive number"
    if p.get("n") is not None and not (_number(p["n"]) and p["n"] >= 0):
        return f"has n {p['n']!r}, not a size"
    for key in ("w", "w0", "train_loss", "test_loss", "train_err", "test_err", "wall_time"):
        value = p.get(key)
        if value is not None and not _number(value):
            return f"has {key} {value!r}, not a number"
        if key in ("w", "w0") and value is not None and not value > 0:  # drawn on a log axis
            return f"has {key} {value!r}, not a positive norm"
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- the landscape: points over seeds, w_c, the LU claim --------------------------------------

def aggregate(points: list[dict]) -> list[dict]:
    """One row per (N, α): the median over seeds of each value; converged when every seed is."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p.get("n") or 0, p["alpha"]), []).append(p)
    rows = []
    for (_, alpha), ps in sorted(groups.items()):
        row = {"task": ps[0]["task"], "alpha": alpha, "n": ps[0].get("n"), "steps": ps[0].get("steps"),
               "size_key": ps[0].get("size_key"), "seeds": sorted(p["seed"] for p in ps),
               "run_ids": [p["run_id"] for p in ps],
               "converged": all(p["converged"] for p in ps),
               "statuses": sorted({p["status"] for p in ps}),
               "n_converged": sum(p["converged"] for p in ps)}
        for key in ("w", "w0", "train_loss", "test_loss", "train_err", "test_err", "wall_time"):
            values = [p[key] for p in ps if _finite(p.get(key))]
            row[key] = median(values) if values else None
            row[key + "_range"] = (min(values), max(values)) if values else None
        rows.append(row)
    return rows


def by_size(rows: list[dict]) -> dict:
    """{N (None without an N axis): rows sorted by α}."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["n"], []).append(r)
    return {n: sorted(rs, key=lambda r: r["alpha"]) for n, rs in sorted(out.items(), key=lambda kv: kv[0] or 0)}


def least_converged(rows: list[dict], key: str) -> dict | None:
    """The converged row (rows of one N) with the least finite ``key``; None if there is none."""
    ok = [r for r in rows if r["converged"] and _finite(r.get(key))]
    return min(ok, key=lambda r: r[key]) if ok else None


def w_c(rows: list[dict]) -> dict | None:
    """The converged row of least reduced test loss (rows of one N): the Goldilocks norm."""
    return least_converged(rows, "test_loss")


def least_test_error(rows: list[dict]) -> dict | None:
    """The converged row of least test error, where the task has an error. With a cross-entropy
    loss the reduced test loss can rank a run that learned nothing above one that memorized,
    since confident mistakes cost without bound (IMDb: docs/landscapes/README.md), so the
    command reports this row beside w_c when the two differ."""
    return least_converged(rows, "test_err")


# Tolerances of the LU claim (docs/science.md, "Reduced loss landscapes"):
#: "non-increasing": a later point's train loss may exceed the one before by at most this factor
L_RISE = 1.10
#: ... and train losses below this fraction of the least test loss count as equal (zero)
L_ZERO = 0.01
#: "U-shaped": the minimum is inside the grid and both ends are at least this factor above it
U_DEPTH = 1.5
#: fewer converged points than this at an N: the shape is not judged
MIN_POINTS = 5


def is_u(rows: list[dict], key: str) -> tuple[bool, str]:
    ok = [r for r in rows if r["converged"] and _finite(r[key])]
    if len(ok) < MIN_POINTS:
        return False, f"only {len(ok)} converged points (need {MIN_POINTS})"
    i = min(range(len(ok)), key=lambda j: ok[j][key])
    lo, left, right = ok[i][key], ok[0][key], ok[-1][key]
    where = f"min {lo:.3g} at α = {ok[i]['alpha']:.3g}; ends {left:.3g} (α = {ok[0]['alpha']:.3g}), " \
            f"{right:.3g} (α = {ok[-1]['alpha']:.3g})"
    if i in (0, len(ok) - 1):
        return False, "minimum at the end of the grid: " + where
    if left < U_DEPTH * lo or right < U_DEPTH * lo:
        return False, f"an end is less than {U_DEPTH:g}× the minimum: " + where
    return True, where


def is_l_beyond(rows: list[dict], start_alpha: float) -> tuple[bool, str]:
    """Train loss non-increasing in w from ``start_alpha`` on (within L_RISE, L_ZERO)."""
    ok = [r for r in rows if r["converged"] and _finite(r["train_loss"]) and r["alpha"] >= start_alpha]
    tests = [r["test_loss"] for r in rows if r["converged"] and _finite(r["test_loss"])]
    if len(ok) < 2 or not tests:
        return False, f"only {len(ok)} converged points from w_c on"
    zero = L_ZERO * min(tests)
    for a, b in zip(ok, ok[1:]):
        if b["train_loss"] > max(L_RISE * a["train_loss"], zero):
            return False, (f"train loss rises from {a['train_loss']:.3g} (α = {a['alpha']:.3g}) to "
                           f"{b['train_loss']:.3g} (α = {b['alpha']:.3g})")
    return True, (f"{len(ok)} converged points from α = {ok[0]['alpha']:.3g}: train "
                  f"{ok[0]['train_loss']:.3g} → {ok[-1]['train_loss']:.3g}")


def lu_claim(points: list[dict]) -> dict:
    """Omnigrok's LU mechanism on a landscape over (w, N) (§2–3, Fig. 2a; Fig. 3c: "LU holds
    truer for smaller data"): at the smallest N the reduced train loss is non-increasing in w
    beyond w_c ("L") while the test loss has an interior minimum ("U"); at the largest N both
    are U-shaped. Only converged points count. Returns {"holds", "checks": [(what, ok, detail)]}."""
    sizes = by_size(aggregate(points))
    if len(sizes) < 2:
        raise UserError("the LU claim compares the smallest and the largest N: give at least two "
                        "training-set sizes (--n)")
    small_n, large_n = min(sizes), max(sizes)
    small, large = sizes[small_n], sizes[large_n]
    checks = []
    best = w_c(small)
    u_ok, u_detail = is_u(small, "test_loss")
    checks.append((f"N = {small_n}: test loss U-shaped (interior w_c)", u_ok, u_detail))
    if best is None:
        checks.append((f"N = {small_n}: train loss non-increasing beyond w_c (L)", False, "no w_c"))
    else:
        ok, detail = is_l_beyond(small, best["alpha"])
        checks.append((f"N = {small_n}: train loss non-increasing beyond w_c (L)", ok, detail))
    for key in ("train_loss", "test_loss"):
        ok, detail = is_u(large, key)
        checks.append((f"N = {large_n}: {key.replace('_', ' ')} U-shaped", ok, detail))
    return {"holds": all(ok for _, ok, _ in checks), "checks": checks,
            "small_n": small_n, "large_n": large_n}


# -- the LU claim as a statistic of `grokbench claims` ------------------------------------------

class LUShape:
    """The LU claim (:func:`lu_claim`) over a landscape's runs, as a statistic of a
    :class:`grokbench.Claim`: 1 when every check holds, 0 when one does not, and the checks as
    its text. ``runs`` is the landscape as a claim group: method ``norm``, a grid over
    ``init_scale`` (α) and the task's size setting (N), at a fixed budget, exactly the configs
    ``grokbench landscape`` builds (see :func:`landscape_runs`). It reads the runs' curves
    (``needs_curves``), not only their scores."""

    needs_curves = True

    def __init__(self, runs, size_key: str):
        self.runs, self.size_key = runs, size_key

    def groups(self):
        return [self.runs]

    def label(self) -> str:
        return f"{self.runs.name} LU shape"

    def measure(self, lookup):
        rows = lookup(self.runs)
        if any(rec is None or "curve" not in rec for _, rec in rows):
            return Measured(math.nan, runs=len(rows), text="the runs' curves are neither in the "
                            "store nor in the committed raw results: run the claim with a store "
                            "that holds them")
        points = [point_from_run({"run_id": rec.get("run_id", ""), "config": cfg,
                                  "curve": rec["curve"], "status": rec["status"], "scores": rec},
                                 self.size_key) for cfg, rec in rows]
        claim = lu_claim(points)
        text = "; ".join(f"{what}: {'✓' if ok else '✗'} {detail}" for what, ok, detail in claim["checks"])
        return Measured(1.0 if claim["holds"] else 0.0, runs=len(points),
                        text=("holds" if claim["holds"] else "does not hold") + f" ({text})")


def landscape_runs(task: str, alphas: str, sizes: list[int], size_key: str, steps: int,
                   seeds=(0,), label: str = ""):
    """The claim group whose configs are those of ``grokbench landscape --task T --alpha A --n
    N --steps S`` (same run ids, so a landscape computed by the command is reused)."""
    return Runs(task, METHOD, tuple(seeds),
                {"steps": int(steps), "eval_every": default_eval_every(steps)},
                grid={"init_scale": parse_alphas(alphas), size_key: list(sizes)},
                label=label or f"{task} landscape")
