"""Sweep grids: tasks × methods × seeds × any overridden setting, from the command line or a
TOML file, and how ``grokbench sweep``'s options are read into one. Named suites are TOML files
in the project's ``leaderboards/`` folder."""
from __future__ import annotations

import difflib
import itertools
import math
import os
import re
import sys
from pathlib import Path

from .config import parse_assignments, parse_value, resolve
from .errors import NotApplicable, UserError
from .registry import get_registry
from .tuning import check_trials, plan_trials

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Suites live beside the committed leaderboards they produce; GROKBENCH_SUITES_DIR points
# elsewhere (e.g. an installed copy without the source tree).
SUITES_DIR = Path(__file__).resolve().parent.parent / "leaderboards"


def suites_dir() -> Path:
    return Path(os.environ.get("GROKBENCH_SUITES_DIR", SUITES_DIR))


#: the largest grid file read (the bundled suites are a few kB)
MAX_GRID_FILE = 16 << 20


def load_grid_file(path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_GRID_FILE + 1)  # bounded: --file /dev/zero must not fill memory
        if len(data) > MAX_GRID_FILE:
            raise UserError(f"{path} is over {MAX_GRID_FILE >> 20} MB, too big for a grid file; "
                            "give a TOML grid file")
        spec = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"no grid file {path}; give an existing TOML file") from None
    except OSError as exc:
        raise UserError(f"cannot read the grid file {path} ({exc.strerror}); give a TOML "
                        "file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; give a TOML grid file") from None
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
               "grid", "preset", "reference", "budget_note", "tuning"}
    extra = set(spec) - allowed
    if extra:
        raise UserError(f"{where}: unknown keys {sorted(extra)}; allowed: {sorted(allowed)}")
    for key in ("tasks", "methods"):
        if not spec.get(key) or not isinstance(spec[key], list) or \
                not all(isinstance(name, str) for name in spec[key]):
            raise UserError(f"{where}: '{key}' must be a non-empty list of names, e.g. "
                            f"{key} = [\"{'modadd' if key == 'tasks' else 'wd'}\"]")
    spec["seeds"] = file_seeds(spec.get("seeds", [0, 1, 2]), where)
    spec.setdefault("settings", {})
    spec.setdefault("task_settings", {})
    spec.setdefault("grid", {})
    for key in ("settings", "task_settings", "grid"):
        if not isinstance(spec[key], dict):
            raise UserError(f"{where}: '{key}' must be a table of settings, e.g. [{key}] then "
                            f"lines key = value; got {spec[key]!r}")
    for key, values in spec["grid"].items():
        if values == []:
            raise UserError(f"{where}: grid '{key}' names no value; e.g. {key} = [1, 2]")
    # a scalar under [grid] is a one-value axis (expand reads it so; the counts need its list)
    spec["grid"] = {key: values if isinstance(values, list) else [values]
                    for key, values in spec["grid"].items()}
    if spec["task_settings"]:
        known = get_registry().names("tasks")
        for task, settings in spec["task_settings"].items():
            if task not in known:  # a misspelled task's settings would be silently ignored
                close = difflib.get_close_matches(task, known, 1)
                raise UserError(f"{where}: task_settings names no task {task!r}"
                                + (f"; did you mean {close[0]!r}?" if close else
                                   f"; tasks: {', '.join(known)}"))
            if not isinstance(settings, dict):
                raise UserError(f"{where}: task_settings.{task} must be a table of settings; "
                                f"got {settings!r}")
    spec.setdefault("reference", "wd")
    if spec.get("tuning") is not None:
        try:
            check_trials(spec["tuning"])
        except UserError as exc:
            raise UserError(f"{where}: 'tuning' is the number of trials per study; {exc}") from None
    return spec


def file_seeds(value, where: str) -> list:
    """A grid file's seeds: a list of seeds, where a string item is read as on the command line
    (``"0-3"`` is 0, 1, 2, 3, not the characters of the string), or one such item alone."""
    items = value if isinstance(value, list) else [value]
    seeds: list[int | float] = []
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
    regression task) is appended to it as (task, method, reason) instead of raising. A tuned
    grid (``tuning = N``) gives the runs of its trials (grokbench.tuning)."""
    grid_keys = sorted(spec["grid"])
    grid_values = [spec["grid"][k] if isinstance(spec["grid"][k], list) else [spec["grid"][k]]
                   for k in grid_keys]
    total = len(spec["tasks"]) * len(spec["methods"]) * len(spec["seeds"]) * math.prod(
        len(v) for v in grid_values) * (spec.get("tuning") or 1)
    if total > MAX_RUNS:  # counted, before any run is resolved
        raise UserError(f"the grid has {total} runs, more than one sweep takes ({MAX_RUNS}); "
                        "sweep fewer seeds, tasks, methods, --grid values or trials at a time")
    if spec.get("tuning"):
        return [t.config for t in plan_trials(registry, spec, not_applicable)]
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


# -- from the command line ------------------------------------------------------------------------

def parse_shard(text: str | None):
    """``i/n`` (1 ≤ i ≤ n) → (i, n); None → None."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard takes i/n, e.g. --shard 2/10; got {text!r}") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {text}: i must be between 1 and n, e.g. --shard 1/{max(n, 1)}")
    return i, n


#: the most seeds, and runs, one grid may name: a grid is resolved run by run before any
#: work (ids, --dry-run's count), so ``--seeds 0-100000000`` took 7.3 GB. 100 000 runs are
#: decades of CPU time at the bundled tasks' speeds; a larger study is several sweeps.
MAX_SEEDS = MAX_RUNS = 100_000


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or ranges ``0-9`` (inclusive) or both: ``0-4,10``; ranges are counted before
    they are expanded, and more than :data:`MAX_SEEDS` seeds is an error."""
    seeds: list[int] = []
    try:
        parts = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:  # a range; a leading - is a negative seed
                cut = part.index("-", 1)
                parts.append((int(part[:cut]), int(part[cut + 1:])))
            else:
                parts.append((int(part), int(part)))
    except ValueError:
        raise UserError(f"--seeds takes integers and ranges, e.g. 0,1,2 or 0-9; got {text!r}") from None
    count = sum(max(0, hi - lo + 1) for lo, hi in parts)
    if count > MAX_SEEDS:
        raise UserError(f"--seeds {text} names {count} seeds, more than one sweep takes "
                        f"({MAX_SEEDS}); sweep fewer seeds at a time, e.g. --seeds 0-99")
    for lo, hi in parts:
        seeds += range(lo, hi + 1)
    if not seeds:
        raise UserError(f"--seeds names no seed: {text!r}; e.g. --seeds 0,1,2")
    return list(dict.fromkeys(seeds))


def parse_grid(pairs) -> dict:
    """``--grid lr=0.01,0.001`` → {"lr": [0.01, 0.001]}. Commas inside brackets belong to one
    value, so list-valued settings sweep as ``--grid betas=[0.9,0.98],[0.9,0.99]``."""
    grid = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--grid takes key=v1,v2,..., got {pair!r} (e.g. --grid lr=0.01,0.001)")
        key, text = pair.split("=", 1)
        grid[key.strip().replace("-", "_")] = [parse_value(v) for v in _top_level_items(text)]
        if not grid[key.strip().replace("-", "_")]:  # else a sweep of 0 runs that "succeeds"
            raise UserError(f"--grid {pair} names no value; e.g. --grid {key.strip()}=0.01,0.001")
    return grid


def _top_level_items(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch in "[({") - (ch in "])}")
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]


def _split_names(values) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def build_spec(suite, grid_file, tasks, methods, seeds, grid, assignments, preset,
               tuning=None) -> dict:
    """The grid from a suite or file, with command-line options replacing its lists and adding
    to its settings."""
    if suite and grid_file:
        raise UserError("give --suite or --file, not both")
    if suite:
        spec, where = load_suite(suite), f"suite {suite}"
    elif grid_file:
        spec, where = load_grid_file(grid_file), str(grid_file)
    else:
        if not tasks:
            raise UserError("say what to sweep: --task T (repeatable), --suite NAME or --file grid.toml")
        spec, where = {"name": "command line", "methods": ["baseline"]}, "the command line"
    if tasks:
        spec["tasks"] = _split_names(tasks)
    if methods:
        spec["methods"] = _split_names(methods)
    if seeds:
        spec["seeds"] = parse_seeds(seeds)
    settings, grid_values = parse_assignments(assignments), parse_grid(grid)
    for key in ("seed",):
        if key in settings or key in grid_values:
            raise UserError("seeds are a grid axis of their own: use --seeds 0,1,2 (or 0-9)")
    if tuning is not None:
        spec["tuning"] = tuning
    spec = validate_spec(spec, where)
    spec["settings"] = {**spec["settings"], **settings}
    spec["grid"] = {**spec["grid"], **grid_values}
    if preset:
        spec["preset"] = preset
    return spec
