"""Paper claims as data: the runs a claim needs and the statistics it computes from their scores.

A :class:`Claim` names its source (paper and figure or section), what the paper says, the runs it
needs (groups of :class:`Runs`: a task × method × seeds × settings, with their budget), and its
:class:`Check` s: a statistic of the stored scores (:class:`Median` with its range over seeds,
:class:`Ratio` or :class:`Difference` of two groups' medians, log-log :class:`Slope`) compared
with a bound. The claim holds here when every check holds. Plugins register claims through the
``register_claims`` hook; ``grokbench claims`` runs their sweeps as ordinary stored runs and
reports them (docs/science.md, "Claims"; :mod:`grokbench.claim_runs` does the running).

This module is pure: it computes from scores it is handed and never trains or opens a store.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .columns import fmt_setting
from .stats import median

INF = math.inf

#: the results of one group's runs: (resolved config, scores or None when not stored yet)
GroupResults = list[tuple[dict, dict | None]]
#: a group's results, by the group
Lookup = Callable[["Runs"], GroupResults]

# How the report names a score.
SCORE_NAMES = {"steps_to_generalize": "steps-to-generalize", "steps_to_fit": "steps-to-fit",
               "grokking_delay": "grokking delay", "collapse_onset": "collapse onset",
               "max_sc": "max SC", "final_test_acc": "final test acc",
               "best_test_acc": "best test acc"}


@dataclass(frozen=True)
class Runs:
    """One group of a claim's runs: ``task`` × ``method`` × ``seeds`` (× every combination of
    ``grid`` values) at ``settings`` (any setting ``--set`` takes, the budget ``steps`` among
    them) and an optional task ``preset``. ``label`` is how the report names the group."""

    task: str
    method: str = "baseline"
    seeds: Sequence[int] = (0,)
    settings: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    preset: str | None = None
    label: str = ""
    #: N > 0: a tuned group (grokbench.tuning): each seed is a study of N trials drawn from the
    #: method's search space, and the group's results are each study's best trial
    tuning: int = 0

    @property
    def key(self) -> str:
        """The group's identity (two equal groups share their runs)."""
        return json.dumps(self.spec(), sort_keys=True)

    def __hash__(self) -> int:  # its settings are dicts: hash what it computes, with its label
        return hash((self.key, self.label))

    def spec(self) -> dict:
        """The group as a sweep grid (what ``grokbench sweep --file`` reads)."""
        spec: dict[str, Any] = {"tasks": [self.task], "methods": [self.method],
                                "seeds": list(self.seeds), "settings": dict(self.settings),
                                "grid": {k: list(v) for k, v in self.grid.items()}}
        if self.preset:
            spec["preset"] = self.preset
        if self.tuning:
            spec["tuning"] = self.tuning
        return spec

    @property
    def name(self) -> str:
        return self.label or f"{self.task}/{self.method}"

    def describe(self, run: Mapping[str, Any] | None = None) -> str:
        """task/method, seeds and settings, as the report lists a claim's runs. ``run``: one run's
        config, whose grid values then replace the grid's sets (a table row says which of the
        grid's runs it is, e.g. train_frac=0.6, not train_frac∈{0.4, 0.6, 0.7})."""
        parts = [f"{k}={fmt_setting(v)}" for k, v in sorted(self.settings.items())]
        parts += [f"{k}={fmt_setting(run[k])}" if run is not None and k in run
                  else f"{k}∈{{{', '.join(fmt_setting(x) for x in v)}}}"
                  for k, v in sorted(self.grid.items())]
        if self.preset:
            parts.append(f"preset={self.preset}")
        if self.tuning:
            parts.append(f"tuned: best of {self.tuning} trials per study")
        seeds = ", ".join(str(s) for s in self.seeds)
        kind = "study seed" if self.tuning else "seed"
        return (f"{self.task} / {self.method}, {kind}{'s' if len(self.seeds) > 1 else ''} {seeds}"
                + (f": {', '.join(parts)}" if parts else ""))

    def command(self) -> str:
        """The ``grokbench sweep`` command that computes this group's runs."""
        out = [f"grokbench sweep --task {self.task} --method {self.method} "
               f"--seeds {','.join(str(s) for s in self.seeds)}"]
        out += [f"--set {k}={fmt_setting(v)}" for k, v in sorted(self.settings.items())]
        out += [f"--grid {k}={','.join(fmt_setting(x) for x in v)}" for k, v in sorted(self.grid.items())]
        if self.preset:
            out.append(f"--preset {self.preset}")
        if self.tuning:
            out.append(f"--tuning {self.tuning}")
        return " ".join(out)


@dataclass(frozen=True)
class Measured:
    """A statistic's value: ``value`` (∞ allowed; NaN when it cannot be measured), the range
    over seeds where there is one, how many runs it comes from, and ``per_seed``: the same
    statistic on each seed alone (what the verdict rule compares with the bound; empty where
    the statistic has no per-seed form)."""

    value: float
    low: float | None = None
    high: float | None = None
    runs: int = 0
    text: str = ""
    per_seed: tuple[float, ...] = ()


def _scores(results: GroupResults, score: str) -> list[float]:
    values = []
    for _, scores in results:
        value = None if scores is None else scores.get(score)
        values.append(math.nan if value is None else float(value))
    return values


def _median_of(lookup: Lookup, runs: Runs, score: str) -> Measured:
    values = _scores(lookup(runs), score)
    if not values or any(math.isnan(v) for v in values):
        return Measured(math.nan, runs=len(values), text="not measured")
    value = median(values)
    low, high = min(values), max(values)
    text = fmt_value(value) + (f" (seeds: {seeds_text(values)})" if len(values) > 1 else "")
    return Measured(value, low, high, len(values), text, tuple(values))


def seeds_text(values: Sequence[float], ratio: bool = False, digits: int = 4) -> str:
    return ", ".join(fmt_value(v, digits, ratio=ratio) for v in values)


def _two_groups(lookup: Lookup, first: Runs, second: Runs, score: str,
                combine: Callable[[float, float], float], sign: str) -> Measured:
    """A statistic of two groups' medians (a ratio, a difference), and the same of each seed's
    pair (:func:`paired`)."""
    a, b = _median_of(lookup, first, score), _median_of(lookup, second, score)
    as_ratio = combine is ratio
    value = combine(a.value, b.value)
    per_seed = paired(a, b, combine)
    seeds = f"; seeds: {seeds_text(per_seed, ratio=as_ratio)}" if per_seed else ""
    return Measured(value, runs=a.runs + b.runs, per_seed=per_seed,
                    text=f"{fmt_value(value, ratio=as_ratio)} ({a.text.split(' (')[0]} {sign} "
                         f"{b.text.split(' (')[0]}{seeds})")


def paired(a: Measured, b: Measured, combine: Callable[[float, float], float]) -> tuple[float, ...]:
    """A two-group statistic on each seed: the runs paired in order (same seeds, same grid
    points) where the groups have as many runs, else each run of one group against the other's
    median (the group with several runs is the one whose seeds vary)."""
    if len(a.per_seed) == len(b.per_seed) > 1:
        return tuple(combine(x, y) for x, y in zip(a.per_seed, b.per_seed))
    if len(a.per_seed) > 1:
        return tuple(combine(x, b.value) for x in a.per_seed)
    if len(b.per_seed) > 1:
        return tuple(combine(a.value, y) for y in b.per_seed)
    return ()


@dataclass(frozen=True)
class Median:
    """The median of a score over a group's runs (seeds, and grid values if it has any), a miss
    counted as ∞, with its range: the leaderboards' median (docs/science.md, "Leaderboards")."""

    runs: Runs
    score: str = "steps_to_generalize"

    def groups(self) -> list[Runs]:
        return [self.runs]

    def label(self) -> str:
        return f"{self.runs.name} {SCORE_NAMES.get(self.score, self.score)}"

    def measure(self, lookup: Lookup) -> Measured:
        return _median_of(lookup, self.runs, self.score)


@dataclass(frozen=True)
class Ratio:
    """median(numerator) / median(denominator) of one score: "A generalizes k× later than B".
    ∞/finite is ∞, finite/∞ is 0, and ∞/∞ cannot be measured (NaN: the check fails)."""

    numerator: Runs
    denominator: Runs
    score: str = "steps_to_generalize"

    def groups(self) -> list[Runs]:
        return [self.numerator, self.denominator]

    def label(self) -> str:
        return (f"{SCORE_NAMES.get(self.score, self.score)} {self.numerator.name} / "
                f"{self.denominator.name}")

    def measure(self, lookup: Lookup) -> Measured:
        return _two_groups(lookup, self.numerator, self.denominator, self.score, ratio, "/")


@dataclass(frozen=True)
class Difference:
    """median(a) − median(b) of one score (∞ − finite is ∞; ∞ − ∞ cannot be measured)."""

    a: Runs
    b: Runs
    score: str = "steps_to_generalize"

    def groups(self) -> list[Runs]:
        return [self.a, self.b]

    def label(self) -> str:
        return f"{SCORE_NAMES.get(self.score, self.score)} {self.a.name} − {self.b.name}"

    def measure(self, lookup: Lookup) -> Measured:
        return _two_groups(lookup, self.a, self.b, self.score, difference, "−")


@dataclass(frozen=True)
class Slope:
    """The least-squares slope of log(median score) against log(setting ``x``) over groups that
    differ in ``x`` (e.g. weight decay γ: t ∝ γ⁻¹ is a slope of −1). A group whose median is ∞
    has no place on the line: the slope cannot be measured then (NaN)."""

    runs: Sequence[Runs]
    x: str
    score: str = "steps_to_generalize"

    def groups(self) -> list[Runs]:
        return list(self.runs)

    def label(self) -> str:
        return f"log-log slope of {SCORE_NAMES.get(self.score, self.score)} against {self.x}"

    def measure(self, lookup: Lookup) -> Measured:
        points, texts, n, per_group = [], [], 0, []
        for group in self.runs:
            results = lookup(group)
            m = _median_of(lookup, group, self.score)
            n += m.runs
            xs = {cfg[self.x] for cfg, _ in results}
            if len(xs) != 1:
                raise ValueError(f"a Slope group must fix {self.x}; {group.describe()} has {sorted(xs)}")
            x = float(next(iter(xs)))
            texts.append(f"{self.x}={fmt_setting(x)}: {m.text.split(' (')[0]}")
            points.append((x, m.value))
            per_group.append((x, m.per_seed))
        value = log_log_slope(points)
        # each seed's own line, where every group ran the same number of seeds
        sizes = {len(v) for _, v in per_group}
        per_seed = (tuple(log_log_slope([(x, v[i]) for x, v in per_group])
                          for i in range(sizes.pop())) if len(sizes) == 1 and 0 not in sizes
                    and len(per_group[0][1]) > 1 else ())
        seeds = f"; seeds: {seeds_text(per_seed, digits=3)}" if per_seed else ""
        return Measured(value, runs=n, per_seed=per_seed,
                        text=f"{fmt_value(value, digits=3)} ({'; '.join(texts)}{seeds})")


@dataclass(frozen=True)
class AtDecision:
    """The median over a group's runs of one curve value (a metric recorded at each evaluation,
    e.g. ``fourier_key_freqs``) at each run's decision point: the last scored evaluation, where
    it has fit, generalized and held (docs/science.md, "Scores"); a run that never got there is
    read at its last evaluation. It reads curves (``needs_curves``); each seed's value follows
    the median, as for :class:`Median`."""

    runs: Runs
    key: str
    needs_curves = True

    def groups(self) -> list[Runs]:
        return [self.runs]

    def label(self) -> str:
        return f"{self.runs.name} {self.key} at the decision point"

    def point(self, rec: dict, curve: list) -> dict:
        decided = rec.get("decided_at")
        return next((e for e in curve if e["step"] == decided), curve[-1])

    def measure(self, lookup: Lookup) -> Measured:
        values = []
        for _, rec in lookup(self.runs):
            rec = rec or {}
            curve = [e for e in rec.get("curve") or [] if self.key in e]
            if not curve:
                return Measured(math.nan, text=f"not measured (no {self.key} in the curves)")
            values.append(float(self.point(rec, curve)[self.key]))
        value = median(values)
        text = fmt_value(value) + (f" (seeds: {seeds_text(values)})" if len(values) > 1 else "")
        return Measured(value, min(values), max(values), len(values), text, tuple(values))


@dataclass(frozen=True)
class AtEnd(AtDecision):
    """As :class:`AtDecision`, read at each run's last evaluation: the end of its budget for runs
    trained without early stop, where a paper reads a trained network (Nanda et al. read the
    Fourier fingerprint after 40 000 steps, past grokking's "cleanup" phase)."""

    def label(self) -> str:
        return f"{self.runs.name} {self.key} at the end"

    def point(self, rec: dict, curve: list) -> dict:
        return curve[-1]


class Statistic(Protocol):
    """What a check measures: Median, Ratio, Difference, Slope, or a plugin's own (the LU shape
    of a landscape, grokbench.landscape.LUShape, reads curves and says so by ``needs_curves``)."""

    def groups(self) -> list[Runs]: ...

    def label(self) -> str: ...

    def measure(self, lookup: Lookup) -> Measured: ...

OPS: dict[str, Callable[[float, Any], bool]] = {
    "<": lambda v, b: v < b, "<=": lambda v, b: v <= b, ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b, "==": lambda v, b: v == b,
    "between": lambda v, b: b[0] <= v <= b[1],
}
OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "between": "in"}


@dataclass(frozen=True)
class Check:
    """``statistic op bound``, e.g. ``Check(Median(runs), "<=", 300)`` or
    ``Check(Slope(...), "between", (-1.3, -0.7))``. A statistic that cannot be measured (NaN)
    fails its check. ``says`` is the claim this check stands for, in words."""

    statistic: Statistic
    op: str
    bound: Any
    says: str = ""

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"Check op must be one of {sorted(OPS)}, got {self.op!r}")

    def bound_text(self) -> str:
        if self.op == "between":
            return f"[{fmt_value(self.bound[0])}, {fmt_value(self.bound[1])}]"
        return fmt_value(self.bound)

    def holds(self, measured: Measured) -> bool:
        return self.holds_for(measured.value)

    def holds_for(self, value: float) -> bool:
        return not math.isnan(value) and bool(OPS[self.op](value, self.bound))

    def verdict(self, measured: Measured) -> str:
        """The verdict rule (docs/science.md, "Claims"): REPRODUCED when the statistic holds
        on the median and on every seed alone, NOT_REPRODUCED when it fails on the median and
        on every seed, INCONCLUSIVE when the seeds straddle the bound. A statistic without a
        per-seed form (one seed, a landscape's shape) is decided by its value."""
        on_median = self.holds(measured)
        if all(self.holds_for(v) == on_median for v in measured.per_seed):
            return REPRODUCED if on_median else NOT_REPRODUCED
        return INCONCLUSIVE


REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"


def claim_verdict(verdicts: Sequence[str]) -> str:
    """A claim holds when all of its checks do: one check the seeds agree fails makes it not
    reproduced; otherwise one inconclusive check makes it inconclusive."""
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return INCONCLUSIVE if INCONCLUSIVE in verdicts else REPRODUCED


@dataclass(frozen=True)
class Claim:
    """A paper's claim as grokbench checks it.

    ``name``: short, unique, used with ``grokbench claims -k``. ``source``: the paper and its
    figure or section. ``statement``: what the paper claims. ``paper_value``: the paper's number
    or words. ``checks``: what must hold here (all of them). ``slow``: too long for CI, run only
    with ``--slow``. ``unavailable``: why the claim cannot be checked yet (a model or method that
    does not exist); its checks are then not run. ``note``: the setting the runs use, in words.
    ``differences``: each way the runs' configuration (model, input format, data range, split,
    optimizer, batch, warm-up, budget, seeds) still differs from the paper's, with why; none
    means "as the paper"."""

    name: str
    source: str
    statement: str
    paper_value: str
    checks: Sequence[Check] = ()
    slow: bool = False
    unavailable: str | None = None
    note: str = ""
    differences: Sequence[str] = ()

    def configuration(self) -> str:
        """The report's configuration line."""
        if not self.differences:
            return "as the paper"
        return "differs from the paper: " + "; ".join(self.differences)

    def __post_init__(self):
        if not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"a claim's name is one word (letters, digits, -), got {self.name!r}")
        if not self.checks and not self.unavailable:
            raise ValueError(f"claim {self.name!r} has no checks; give checks or unavailable=REASON")
        if isinstance(self.differences, str):  # ("one difference") without its comma
            raise ValueError(f"claim {self.name!r}: differences is a sequence of strings, one per "
                             f"difference; got one string (write (\"...\",) for one)")

    def groups(self) -> list[Runs]:
        """Every group of runs the checks need, each once, in the order the checks name them."""
        seen: dict[str, Runs] = {}
        for check in self.checks:
            for group in check.statistic.groups():
                seen.setdefault(group.key, group)
        return list(seen.values())


def ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or (math.isinf(a) and math.isinf(b)):
        return math.nan
    if math.isinf(b):
        return 0.0
    if b == 0:
        return INF if a > 0 else math.nan
    return a / b


def difference(a: float, b: float) -> float:
    return a - b if not (math.isinf(a) and math.isinf(b)) else math.nan


def log_log_slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of log y against log x; NaN with fewer than two distinct x, or any
    y that is ∞, NaN or not positive."""
    if len(points) < 2 or any(not (math.isfinite(y) and y > 0 and x > 0) for x, y in points):
        return math.nan
    lx = [math.log(x) for x, _ in points]
    ly = [math.log(y) for _, y in points]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        return math.nan
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx


def fmt_value(value, digits: int = 4, ratio: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 and not ratio:
        return str(int(value))
    text = f"{value:.{digits}g}"
    return text + ("×" if ratio else "")
