"""Sweep grids: tasks × methods × seeds × any overridden setting, from the command line or a
TOML file. Named suites are TOML files in the project's ``leaderboards/`` folder."""
from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

from .config import resolve
from .errors import NotApplicable, UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Suites live beside the committed leaderboards they produce; GROKBENCH_SUITES_DIR points
# elsewhere (e.g. an installed copy without the source tree).
SUITES_DIR = Path(__file__).resolve().parent.parent / "leaderboards"


def suites_dir() -> Path:
    import os
    return Path(os.environ.get("GROKBENCH_SUITES_DIR", SUITES_DIR))


def load_grid_file(path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            spec = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"no grid file {path}; give an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); fix the file") from None
    spec.setdefault("name", path.stem)
    return validate_spec(spec, str(path))


def load_suite(name: str) -> dict:
    # A suite is named, not located: ``--suite ../../x`` would read a grid from anywhere, and
    # ``leaderboard --write`` would then write NAME.* files outside the suites folder.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise UserError(f"--suite takes a suite's name (letters, digits, _ . -), e.g. quick, not "
                        f"{name!r}; for a grid file elsewhere use --file PATH")
    path = suites_dir() / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in suites_dir().glob("*.toml"))
        raise UserError(f"unknown suite {name!r}; suites: {', '.join(known) or 'none'} "
                        f"(TOML files in {suites_dir()})")
    return load_grid_file(path)


def validate_spec(spec: dict, where: str) -> dict:
    """A grid: tasks, methods, seeds (lists); settings (applied to every run); task_settings
    (per task); grid (setting -> list of values, crossed with everything else); preset."""
    allowed = {"name", "description", "tasks", "methods", "seeds", "settings", "task_settings",
               "grid", "preset", "reference", "budget_note"}
    extra = set(spec) - allowed
    if extra:
        raise UserError(f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(allowed)}")
    for key in ("tasks", "methods"):
        if not spec.get(key) or not isinstance(spec[key], list):
            raise UserError(f"{where}: '{key}' must be a non-empty list")
    spec["seeds"] = file_seeds(spec.get("seeds", [0, 1, 2]), where)
    spec.setdefault("settings", {})
    spec.setdefault("task_settings", {})
    spec.setdefault("grid", {})
    spec.setdefault("reference", "wd")
    return spec


def file_seeds(value, where: str) -> list:
    """A grid file's seeds: a list of seeds, where a string item is read as on the command line
    (``"0-3"`` is 0, 1, 2, 3, not the characters of the string), or one such item alone."""
    from .sweep import parse_seeds  # imported here: sweep.py imports this module too
    items = value if isinstance(value, list) else [value]
    seeds = []
    for item in items:
        if isinstance(item, str):
            try:
                seeds += parse_seeds(item)
            except UserError:
                raise UserError(f"{where}: 'seeds' takes integers and ranges, e.g. [0, 1, 2] or "
                                f"\"0-9\"; got {item!r}") from None
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            seeds.append(item)  # 1.0 becomes 1 when the run's settings are resolved
        else:
            raise UserError(f"{where}: 'seeds' takes integers and ranges, e.g. [0, 1, 2] or "
                            f"\"0-9\"; got {item!r}")
    if not seeds:
        raise UserError(f"{where}: 'seeds' names no seed; e.g. seeds = [0, 1, 2]")
    return list(dict.fromkeys(seeds))


def expand(registry, spec: dict, not_applicable: list | None = None) -> list[dict]:
    """Every run of the grid as a resolved config, in a stable order. With a
    ``not_applicable`` list, a task × method pair that cannot run (a classification loss on a
    regression task) is appended to it as (task, method, reason) instead of raising."""
    grid_keys = sorted(spec["grid"])
    grid_values = [spec["grid"][k] if isinstance(spec["grid"][k], list) else [spec["grid"][k]]
                   for k in grid_keys]
    configs = []
    for task, method, *values in itertools.product(spec["tasks"], spec["methods"], *grid_values):
        for seed in spec["seeds"]:
            overrides = dict(spec["settings"])
            overrides.update(spec["task_settings"].get(task, {}))
            overrides.update(zip(grid_keys, values))
            overrides["seed"] = seed
            try:
                configs.append(resolve(registry, task, method, overrides, spec.get("preset")))
            except NotApplicable as exc:
                if not_applicable is None:
                    raise
                if (task, method, str(exc)) not in not_applicable:
                    not_applicable.append((task, method, str(exc)))
    return configs
