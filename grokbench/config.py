"""Resolving a run's settings: one flat dict, built in layers, hashed to give the run its id.

Layers, later wins: engine defaults < options of the chosen model/loss/optimizers < task
options < then :func:`settings_layers`: the task's defaults < the task's defaults for the
chosen model < preset < methods < each method's recipe for this task < the task's defaults for
those methods < command line. Every key a user overrides must exist in some layer, so typos
fail loudly.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import json
from typing import Any

from .errors import NotApplicable, UserError

ENGINE_DEFAULTS: dict[str, Any] = {
    "task": None,
    "method": "baseline",
    "preset": None,
    "model": "mlp",
    "loss": "ce",
    "optimizer": "adamw",
    "wrappers": [],          # optimizer wrappers (perpgrad, grokfast, norm), gradient order
    "lr": 1e-3,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "weight_decay": 0.0,
    "momentum": 0.0,         # SGD only
    "grad_clip": None,       # max global gradient norm, None = off
    "init_scale": 1.0,       # Omnigrok's α: every parameter is multiplied by it after init
    "steps": 1000,
    "batch_size": None,      # None = full batch, reshuffled each step (docs/science.md)
    "eval_every": 100,
    "evals_per_decade": 10,  # early evaluations: log-spaced points per decade below eval_every
    "eval_batch_size": 8192,
    "seed": 0,
    "dtype": "float32",
    "device": "cpu",
    "fit_target": 0.99,
    "sc_threshold": 0.1,     # collapse onset threshold (the StableMax paper's figures drew 0.4/0.5)
    "hold_evals": 3,         # the target counts as held after this many evaluations in a row
    "early_stop": False,     # stop at the decision point (scores are read up to it anyway)
    "softmax_precision": "float32",  # precision of the softmax-view SC diagnostic
    "acc_threshold": 1e-3,   # regression: per-sample MSE below this counts as correct
    "threads": None,         # torch/OpenMP threads for this run (None = torch's default)
    "loggers": [],           # extra loggers (e.g. tensorboard); the SQLite store is always written
    "log_dir": None,
}

# Settings that do not change what a run computes, so they are not part of its identity.
NOT_IDENTITY = {"threads", "loggers", "log_dir"}

DTYPES = ("float16", "bfloat16", "float32", "float64")


def parse_value(text: str):
    """Parse a command-line value: numbers, booleans, None, lists ("0.9,0.99"), else a string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


def parse_assignments(pairs) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--set takes key=value, got {pair!r} (e.g. --set p=97)")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


def method_names(registry, method_expr: str) -> list[str]:
    """The methods of ``a+b+c`` in canonical order, so that spellings of one computation
    (``wd+perpgrad`` and ``perpgrad+wd``, ``wd+wd``, ``"wd+"``) give one method name and one run id.

    Names are deduplicated and sorted, except that methods adding optimizer wrappers keep the
    order they were written in among themselves (their sorted places are filled in that order):
    the first wrapper listed sees the gradient first, so ``perpgrad+grokfast`` and
    ``grokfast+perpgrad`` are different computations. Everything else a method sets must agree
    with the others (see merge_methods), so its place does not matter."""
    names = list(dict.fromkeys(m.strip() for m in method_expr.split("+") if m.strip()))
    if not names:
        raise UserError("--method is empty; e.g. --method perpgrad or --method perpgrad+stablemax")
    stacking = [n for n in names if registry.get("methods", n).obj.get("wrappers")]
    in_order = iter(stacking)
    return [next(in_order) if n in stacking else n for n in sorted(names)]


def canonical_method(registry, method_expr: str) -> str:
    return "+".join(method_names(registry, method_expr))


def stored_method_name(registry, method_expr: str) -> str:
    """The name a method's runs are stored under: its canonical name (wd+perpgrad as
    perpgrad+wd), or the name as written when no installed plugin knows it (its runs may still
    be stored)."""
    try:
        return canonical_method(registry, method_expr)
    except UserError:
        return method_expr


def merge_methods(registry, method_expr: str) -> dict:
    """Merge the settings of ``a+b+c``: lists concatenate, other keys must agree."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name in method_names(registry, method_expr):
        settings = registry.get("methods", name).obj
        for key, value in settings.items():
            if key == "wrappers":  # optimizer wrappers stack; any other list (betas) is one value
                merged[key] = merged.get(key, []) + [v for v in value if v not in merged.get(key, [])]
            elif key in merged and _canon(merged[key]) != _canon(value):
                merged.setdefault("__conflicts__", {})[key] = (owner[key], merged[key], name, value)
            else:
                merged[key], owner[key] = value, name
    return merged


def resolve(registry, task: str, method: str = "baseline", overrides: dict | None = None,
            preset: str | None = None) -> dict:
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None or k == "grad_clip"}
    # A list setting given as words (--set loggers=tensorboard, or "a,b": strings literal_eval
    # cannot parse) is a list of those words, not a string to iterate letter by letter.
    for key, value in overrides.items():
        if isinstance(ENGINE_DEFAULTS.get(key), list) and isinstance(value, str):
            overrides[key] = [v.strip() for v in value.split(",") if v.strip()]
    task_entry = registry.get("tasks", task)
    task_cls = task_entry.obj
    method = canonical_method(registry, method)  # every later step reads the canonical order
    methods = merge_methods(registry, method)
    conflicts = methods.pop("__conflicts__", {})
    for key, (m1, v1, m2, v2) in conflicts.items():
        if key not in overrides:
            raise UserError(f"methods {m1!r} and {m2!r} conflict on {key} ({v1!r} vs {v2!r}); "
                            f"drop one or choose with --set {key}=VALUE")
    if preset is not None and preset not in task_cls.presets:
        raise UserError(f"task {task!r} has no preset {preset!r}; presets: "
                        f"{', '.join(sorted(task_cls.presets)) or 'none'}")
    preset_settings = task_cls.presets.get(preset, {}) if preset else {}

    def layers(model):
        return settings_layers(registry, task_cls, task, method, methods, preset_settings,
                               overrides, model)

    # The chosen components decide which option defaults join the bottom layer, so they are
    # looked up in the layers first. The model comes first: which model_defaults apply depends
    # on it (it is looked up with the task's default model's).
    model = lookup(layers(task_cls.defaults.get("model", ENGINE_DEFAULTS["model"])), "model")
    above = layers(model)
    wrappers = lookup(above, "wrappers")
    components = [("models", model), ("losses", lookup(above, "loss")),
                  ("optimizers", lookup(above, "optimizer"))]
    components += [("optimizers", w) for w in wrappers]
    config = dict(ENGINE_DEFAULTS)
    for kind, name in components:
        entry = registry.get(kind, name)
        if kind == "optimizers" and (name in wrappers) != entry.wrapper:
            raise UserError(f"{name!r} is {'a wrapper' if entry.wrapper else 'a base optimizer'}: "
                            f"use --set {'wrappers=' + name if entry.wrapper else 'optimizer=' + name}")
        config.update(entry.options)
        if kind == "losses" and entry.task_kinds is not None and task_cls.kind not in entry.task_kinds:
            raise NotApplicable(f"loss {name!r} applies to {'/'.join(entry.task_kinds)} tasks; "
                                f"{task!r} is a {task_cls.kind} task")
    config.update(task_cls.options)
    declared = dict(config)  # each setting as its engine, component or task declares it
    config["target_metric"], config["target"] = task_cls.target_metric, task_cls.target
    *below_command_line, command_line = above
    for layer in below_command_line:
        config.update(layer)
    unknown = [k for k in overrides if k not in config and k not in NOT_IDENTITY]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, list(config), n=1)
        raise UserError(f"unknown setting {key!r} for task {task!r}"
                        + (f"; did you mean {hint[0]!r}?" if hint else "")
                        + " (`grokbench run --task TASK --show-config` lists them)")
    for key, value in command_line.items():
        config[key] = coerce_setting(key, value, declared.get(key), config.get(key))
    config["task"], config["method"], config["preset"] = task, method, preset
    config["model"] = model
    if config["dtype"] not in DTYPES:
        raise UserError(f"unknown dtype {config['dtype']!r}; choose one of {', '.join(DTYPES)}")
    check_ranges(config)
    config["plugin_versions"] = plugin_versions(registry, config)
    return canonical(config)


def settings_layers(registry, task_cls, task: str, method: str, methods: dict,
                    preset_settings: dict, overrides: dict, model: str) -> list[dict]:
    """The settings layers above what the engine, the chosen components and the task declare,
    lowest first (a later layer wins), the command line last. This list is the one place their
    order is written: :func:`resolve` chooses the components from it and builds the config
    from it."""
    names = [n.strip() for n in method.split("+") if n.strip()]
    return [
        task_cls.defaults,                                # the task's defaults
        task_cls.model_defaults.get(model, {}),           # ... for the chosen model
        preset_settings,                                  # --preset
        methods,                                          # the methods' settings, merged
        # each method's published recipe for this task
        *(registry.get("methods", name).per_task.get(task, {}) for name in names),
        # the task's own settings for a method it is run with
        *(task_cls.method_defaults.get(name, {}) for name in names),
        overrides,                                        # the command line
    ]


def lookup(layers: list[dict], key: str):
    """A setting's value from the highest layer that sets it, else the engine's default."""
    for layer in reversed(layers):
        if key in layer:
            return layer[key]
    return ENGINE_DEFAULTS[key]


# Settings whose default is None but whose values have one type, so 32 and 32.0 are one value.
OPTIONAL_TYPES = {"batch_size": int, "grad_clip": float, "threads": int}
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number"}


def setting_type(key: str, *defaults):
    """The type of a setting from its values in the layers below the user's: a number setting
    written 1 in one layer and 1.0 in another is a float setting."""
    types = {type(d) for d in defaults if d is not None}
    for kind in (bool, float, int, list, str):
        if kind in types:
            return kind
    return OPTIONAL_TYPES.get(key)


def coerce_setting(key: str, value, *defaults):
    """A value given by the user (command line, grid file) in the type of the setting's
    defaults, so that one value has one spelling in the config and so one run id: for a float
    setting 0, 0.0 and "0" are 0.0; for a bool one 1, "1" and "true" are True. A value that
    cannot be read as that type is an error here, before any training."""
    kind = setting_type(key, *defaults)
    default = next((d for d in defaults if d is not None), None)
    if value is None or kind is None or kind is str:
        return value
    if kind is list:  # a list of floats (betas): each element a float
        if not (isinstance(value, list) and default and all(isinstance(d, float) for d in default)):
            return value
        items = [parse_value(v) if isinstance(v, str) else v for v in value]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
            raise UserError(f"setting {key} takes a list of numbers, got {value!r}; "
                            f"e.g. --set {key}={','.join(map(str, default))}")
        return [float(v) for v in items]
    if isinstance(value, str):
        value = parse_value(value)
    if kind is bool:
        if isinstance(value, (int, float)) and value in (0, 1):  # bools are ints, so they pass
            return bool(value)
    elif isinstance(value, bool):
        pass  # true is not a number
    elif kind is int:
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)):
            return float(value)
    else:
        return value
    raise UserError(f"setting {key} takes {_TYPE_WORDS[kind]}, got {value!r}; "
                    f"e.g. --set {key}={json.dumps(default if default is not None else kind(1))}")


def check_ranges(config: dict):
    """Values that would train and then fail (the store keeps seeds as SQLite's int64) or be
    stored as a finished run that never ran (negative steps): refused before any training."""
    seed = config["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or not -2**63 <= seed < 2**63:
        raise UserError(f"seed must be an integer that fits in 64 bits, got {seed!r}; e.g. --seed 0")
    # 0 steps is allowed: it evaluates the initialization only (a real, finished run).
    steps = config["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise UserError(f"steps must be an integer of at least 0, got {steps!r}; e.g. --steps 1000")
    # Counts and sizes that divide, step or chunk: 0 or less crashed (range step 0, division
    # by zero), or was silently accepted (--eval-every -10 evaluated only the last step).
    for key, example, optional in POSITIVE_INTS:
        value = config.get(key)
        if value is None and optional:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(f"{key} must be an integer of at least 1{' (or none)' if optional else ''}"
                            f", got {value!r}; e.g. {example}")
    device = config["device"]
    try:
        import torch
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"device {device!r} is not a torch device; e.g. --device cpu, cuda or "
                        "cuda:1") from None
    check_dtype_and_eps(config)


# (setting, example, None allowed)
POSITIVE_INTS = [("batch_size", "--batch-size 32 (none: the full training set)", True),
                 ("eval_every", "--eval-every 100", False),
                 ("evals_per_decade", "--set evals_per_decade=10", False),
                 ("eval_batch_size", "--set eval_batch_size=8192", False),
                 ("threads", "--threads 1", True)]


def check_dtype_and_eps(config: dict):
    """Adam's ε is added to √v in the training dtype: 1e-8 is 0 in float16 (its smallest
    subnormal is 6e-8), so the first step divides 0 by 0 and every run turns NaN at step 1, which
    would read as a finding about the method. Refused, with what to do, rather than trained."""
    if config["dtype"] != "float16" or config.get("optimizer") not in ("adam", "adamw"):
        return
    eps = config.get("eps")
    if isinstance(eps, (int, float)) and eps >= 2 ** -14:  # float16's smallest normal number
        return
    raise UserError(f"float16 training with {config['optimizer']} needs eps of at least 6.1e-5 "
                    f"(float16's smallest normal number): eps={eps!r} is 0 or subnormal there and "
                    "runs turn NaN at step 1; use --dtype bfloat16, or --set eps=1e-4")


def plugin_versions(registry, config: dict) -> dict:
    """{distribution: version} of the plugins that provide what this run uses: its task, model,
    loss, optimizer and wrappers, and every metric (all registered metrics run). Part of the
    config and so of the run id: a new version of a plugin may compute something else, so its
    runs must not be mistaken for the old ones. A plugin registered without a distribution
    (in-process) is keyed by its plugin name."""
    used = [("tasks", config["task"]), ("models", config["model"]), ("losses", config["loss"]),
            ("optimizers", config["optimizer"])]
    used += [("optimizers", name) for name in config["wrappers"]]
    used += [("metrics", name) for name in registry.names("metrics")]
    out = {}
    for kind, name in used:
        info = registry.plugins[registry.get(kind, name).plugin]
        out[info.distribution or f"plugin:{info.name}"] = info.version
    return out


def canonical(config: dict) -> dict:
    """JSON round trip: tuples become lists, so a config and its stored copy compare equal."""
    return json.loads(json.dumps(config, sort_keys=True))


def _canon(value):
    return json.dumps(value, sort_keys=True)


def run_id(config: dict) -> str:
    """A run is a pure function of its config: the id is a hash of the identity settings."""
    ident = {k: v for k, v in config.items() if k not in NOT_IDENTITY}
    return hashlib.sha256(_canon(ident).encode()).hexdigest()[:16]
