"""Search spaces of methods (docs/science.md, "Tuning"): their distributions, validation,
seeded draws and one-line descriptions. No config or registry import, so the registry can
validate a method's space when it is registered (the trial planning is grokbench.tuning)."""
from __future__ import annotations

import math
import random

from .errors import UserError

DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform", "choice")

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
