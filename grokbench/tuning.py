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

import itertools
import random
from dataclasses import dataclass, field

from .api import derive_seed
from .config import canonical_method, method_names, resolve
from .errors import NotApplicable, UserError
from .search_space import DISTRIBUTIONS, describe_space, draw, round_sig, validate_space

__all__ = ["DISTRIBUTIONS", "describe_space", "draw", "round_sig", "validate_space", "plan_trials",
           "method_space", "spaces_of", "trial_point", "trial_seed", "check_trials", "Trial"]

MAX_TRIALS = 1000  # trial t of study s trains with seed 1000·s + t


def method_space(registry, method: str) -> dict:
    """The union of the spaces of the methods in ``a+b``; {} when none declares one."""
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


def trial_seed(study_seed: int, trial: int) -> int:
    return 1000 * int(study_seed) + int(trial)


def best_trial(scored: list):
    """A study's best of its ``(steps_to_generalize, trial, ...)`` tuples: the least steps (∞
    when missed), ties going to the earlier trial. The one rule by which a study is scored, in
    the tuned leaderboard and in tuned claims alike."""
    return min(scored, key=lambda x: (x[0], x[1]))


def study_bests(results: list) -> list:
    """Each study's best trial from a tuned group's [(config, scores)]: the least
    steps-to-generalize (∞ when missed; ties: the earlier trial), as the tuned leaderboard scores
    a study. The study and trial are read back from the run's seed (trial_seed)."""
    studies: dict = {}
    for config, scores in results:
        study, trial = divmod(int(config["seed"]), 1000)
        steps = float("inf") if not scores or scores.get("steps_to_generalize") is None \
            else float(scores["steps_to_generalize"])
        studies.setdefault(study, []).append((steps, trial, config, scores))
    return [best_trial(items)[2:] for _, items in sorted(studies.items())]


def trial_point(space: dict, method: str, study_seed: int, trial: int) -> dict:
    return draw(space, random.Random(derive_seed(int(study_seed), f"tuning/{method}/{trial}")))


def check_trials(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS:
        raise UserError(f"--tuning takes a number of trials from 1 to {MAX_TRIALS}, got {n!r}; "
                        "e.g. --tuning 8")
    return n


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
    pinned = set(spec["settings"]) | set(spec["grid"])
    out = {}
    for method in spec["methods"]:
        name = canonical_method(registry, method)
        out[name] = {k: v for k, v in method_space(registry, name).items() if k not in pinned}
    return out
