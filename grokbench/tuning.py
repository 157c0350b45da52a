"""The tuning-fair protocol (docs/science.md, "Tuning"; after MLCommons AlgoPerf's external-tuning
ruleset): each method may declare a search space, ``grokbench sweep --tuning N`` runs N trials
per study, and a study scores its best trial.

- A **search space** is ``{setting: distribution}``, declared by the method's plugin
  (``register(name, settings, description, search_space={...})``). Distributions:
  ``{"log_uniform": [lo, hi]}``, ``{"uniform": [lo, hi]}``, ``{"int_uniform": [lo, hi]}``
  (inclusive) and ``{"choice": [v1, v2, ...]}``. ``a+b`` searches the union of its methods'
  spaces (one setting in two spaces must have one distribution).
- A **study** is one task × method × study seed s; its **trials** t = 0 … N−1 are ordinary runs.
  Trial t trains with seed 1000·s + t, for every method, and with the settings drawn for it: a
  method without a space is its recipe run with N different seeds, which the tables say.
- **Draws** are random search with Python's own seeded generator: trial t of method m in study s
  draws from ``random.Random(derive_seed(s, "tuning/m/t"))``, each setting in sorted order, and
  rounds to 3 significant digits (so a run id does not hinge on the last bit of a libm
  ``exp``, and the tables read well). The same draws serve every task, as AlgoPerf's trials do.
  Random search rather than an Optuna sampler: its adaptive samplers choose a trial from the
  results of earlier ones, so the trials of a sweep could not be planned up front as
  independent, resumable runs with fixed run ids; and Optuna's own RandomSampler would be a
  dependency for these twenty lines. AlgoPerf's external tuning also uses (quasi-)random search.
- A setting given on the command line or in the suite (``--set``, ``settings``,
  ``task_settings``, ``--grid``) is pinned: it is not searched.
- A study's **score** is its best trial by steps-to-generalize (ties: the earlier trial); a task
  table takes the median of those over the study seeds, a study with no solved trial counting as
  ∞, exactly as a fixed-recipe cell counts a seed.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .api import derive_seed
from .errors import UserError

DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform", "choice")
MAX_TRIALS = 1000  # trial t of study s trains with seed 1000·s + t


def validate_space(space, where: str) -> dict:
    """A search space in canonical form ({setting: {kind: [values]}}, sorted), or a UserError
    naming what is wrong and how to write it."""
    example = '{"lr": {"log_uniform": [1e-4, 1e-2]}}'
    if not isinstance(space, dict):
        raise UserError(f"{where}: search_space must be a dict of setting -> distribution, "
                        f"e.g. {example}")
    out = {}
    for key in sorted(space):
        dist = space[key]
        if not (isinstance(dist, dict) and len(dist) == 1 and next(iter(dist)) in DISTRIBUTIONS):
            raise UserError(f"{where}: search_space[{key!r}] must be one of "
                            f"{', '.join(DISTRIBUTIONS)} with its values, e.g. {example}")
        kind, values = next(iter(dist.items()))
        values = list(values) if isinstance(values, (list, tuple)) else values
        if kind == "choice":
            if not isinstance(values, list) or not values:
                raise UserError(f"{where}: search_space[{key!r}] choice needs a non-empty list")
        else:
            numeric = (isinstance(values, list) and len(values) == 2
                       and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in values))
            if not numeric or not values[0] <= values[1]:
                raise UserError(f"{where}: search_space[{key!r}] {kind} needs [low, high] with "
                                f"low ≤ high, got {values!r}")
            if kind == "log_uniform" and values[0] <= 0:
                raise UserError(f"{where}: search_space[{key!r}] log_uniform needs low > 0")
            if kind == "int_uniform" and not all(float(v).is_integer() for v in values):
                raise UserError(f"{where}: search_space[{key!r}] int_uniform needs integer bounds")
        out[key] = {kind: values}
    return out


def method_space(registry, method: str) -> dict:
    """The union of the spaces of the methods in ``a+b``; {} when none declares one."""
    from .config import method_names
    space: dict = {}
    owner: dict = {}
    for name in method_names(registry, method):
        for key, dist in (registry.get("methods", name).search_space or {}).items():
            if key in space and space[key] != dist:
                raise UserError(f"methods {owner[key]!r} and {name!r} search {key} over different "
                                f"distributions ({space[key]} vs {dist}); pin it with --set "
                                f"{key}=VALUE")
            space[key], owner[key] = dist, name
    return space


def round_sig(x: float, digits: int = 3) -> float:
    return float(f"{x:.{digits}g}")


def draw(space: dict, rng: random.Random) -> dict:
    """One point of the space (settings in sorted order, so a point depends only on the rng)."""
    point = {}
    for key in sorted(space):
        kind, values = next(iter(space[key].items()))
        if kind == "log_uniform":
            lo, hi = math.log(values[0]), math.log(values[1])
            point[key] = round_sig(math.exp(rng.uniform(lo, hi)))
        elif kind == "uniform":
            point[key] = round_sig(rng.uniform(values[0], values[1]))
        elif kind == "int_uniform":
            point[key] = rng.randint(int(values[0]), int(values[1]))
        else:
            point[key] = values[rng.randrange(len(values))]
    return point


def trial_seed(study_seed: int, trial: int) -> int:
    return 1000 * int(study_seed) + int(trial)


def trial_point(space: dict, method: str, study_seed: int, trial: int) -> dict:
    return draw(space, random.Random(derive_seed(int(study_seed), f"tuning/{method}/{trial}")))


def check_trials(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS:
        raise UserError(f"--tuning takes a number of trials from 1 to {MAX_TRIALS}, got {n!r}; "
                        "e.g. --tuning 8")
    return n


def describe_space(space: dict | None) -> str:
    """A space as one line, e.g. ``lr ~ log-uniform[0.0001, 0.03], weight_decay ~ ...``."""
    if not space:
        return "none: the recipe, N seeds"
    parts = []
    for key, dist in sorted(space.items()):
        kind, values = next(iter(dist.items()))
        if kind == "choice":
            parts.append(f"{key} ∈ {{{', '.join(map(str, values))}}}")
        else:
            parts.append(f"{key} ~ {kind.replace('_', '-')}[{values[0]:g}, {values[1]:g}]")
    return ", ".join(parts)


@dataclass
class Trial:
    task: str
    method: str
    study_seed: int
    trial: int
    drawn: dict
    config: dict = field(repr=False)


def plan_trials(registry, spec: dict, not_applicable: list | None = None) -> list[Trial]:
    """Every trial of a tuned grid (``spec["tuning"]`` = N): tasks × methods × grid values ×
    study seeds × N trials, each resolved to a run config, in trial-major order per task."""
    import itertools

    from .config import canonical_method, resolve
    from .errors import NotApplicable
    n = check_trials(spec["tuning"])
    grid_keys = sorted(spec["grid"])
    grid_values = [spec["grid"][k] if isinstance(spec["grid"][k], list) else [spec["grid"][k]]
                   for k in grid_keys]
    trials: list[Trial] = []
    for task, method, *values in itertools.product(spec["tasks"], spec["methods"], *grid_values):
        method = canonical_method(registry, method)
        pinned = dict(spec["settings"])
        pinned.update(spec["task_settings"].get(task, {}))
        pinned.update(zip(grid_keys, values))
        space = {k: v for k, v in method_space(registry, method).items() if k not in pinned}
        not_here = False
        for study_seed in spec["seeds"]:
            study_seed = check_study_seed(study_seed)
            for t in range(n):
                drawn = trial_point(space, method, study_seed, t) if space else {}
                overrides = {**drawn, **pinned, "seed": trial_seed(study_seed, t)}
                try:
                    config = resolve(registry, task, method, overrides, spec.get("preset"))
                except NotApplicable as exc:
                    if not_applicable is None:
                        raise
                    if (task, method, str(exc)) not in not_applicable:
                        not_applicable.append((task, method, str(exc)))
                    not_here = True
                    break
                trials.append(Trial(task, method, study_seed, t, drawn, config))
            if not_here:
                break
    # Trial-major within a task (trial 0 of every method and study, then trial 1 …): a sweep cut
    # short, or one piece of it (--shard), leaves every method with as many trials as the others.
    order = {task: i for i, task in enumerate(spec["tasks"])}
    return sorted(trials, key=lambda t: (order[t.task], t.trial))


def check_study_seed(seed) -> int:
    if isinstance(seed, float) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 53:
        raise UserError(f"tuning study seeds are integers of at least 0, got {seed!r}; "
                        "e.g. --seeds 0")
    return seed


def spaces_of(registry, spec: dict) -> dict:
    """{method: its space as searched (pinned settings removed, union over tasks)}."""
    from .config import canonical_method
    pinned = set(spec["settings"]) | set(spec["grid"])
    out = {}
    for method in spec["methods"]:
        name = canonical_method(registry, method)
        out[name] = {k: v for k, v in method_space(registry, name).items() if k not in pinned}
    return out
